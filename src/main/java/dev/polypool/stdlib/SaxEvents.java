package dev.polypool.stdlib;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.StringReader;

import javax.xml.parsers.ParserConfigurationException;
import javax.xml.parsers.SAXParserFactory;

import org.graalvm.polyglot.Value;
import org.xml.sax.Attributes;
import org.xml.sax.InputSource;
import org.xml.sax.Locator;
import org.xml.sax.SAXException;
import org.xml.sax.SAXParseException;
import org.xml.sax.XMLReader;
import org.xml.sax.ext.Attributes2;
import org.xml.sax.ext.DefaultHandler2;

/**
 * A whole XML document parsed with the JDK's SAX parser, reported as expat reports it: each
 * event is a call {@code emit(kind, line, column, args...)} of the Python {@code pyexpat}
 * module, which calls the handlers a program set. Element and attribute names follow expat's
 * namespace convention ({@code uri + separator + local}); external entities and DTDs are never
 * fetched, as expat does not fetch them unless asked. An exception raised by a handler aborts
 * the parse and reaches the caller unchanged.
 */
final class SaxEvents extends DefaultHandler2 {
    // event kinds; polypool's pyexpat.py has the same numbers
    static final int START_ELEMENT = 0, END_ELEMENT = 1, CHARACTERS = 2, PROCESSING_INSTRUCTION = 3,
            COMMENT = 4, START_NAMESPACE = 5, END_NAMESPACE = 6, START_CDATA = 7, END_CDATA = 8,
            START_DOCTYPE = 9, END_DOCTYPE = 10, ENTITY_DECL = 11, NOTATION_DECL = 12,
            UNPARSED_ENTITY_DECL = 13, SKIPPED_ENTITY = 14, ATTLIST_DECL = 15;

    private final Value emit;
    private final String separator;
    private final boolean prefixes;
    private final boolean specifiedOnly;
    private Locator locator;
    private boolean inDtd;

    private SaxEvents(Value emit, String separator, boolean prefixes, boolean specifiedOnly) {
        this.emit = emit;
        this.separator = separator;
        this.prefixes = prefixes;
        this.specifiedOnly = specifiedOnly;
    }

    static Object[] parse(Value data, String encoding, String separator, boolean prefixes, boolean specifiedOnly,
            Value emit) {
        SaxEvents handler = new SaxEvents(emit, separator, prefixes, specifiedOnly);
        InputSource source;
        if (data.isString()) {
            source = new InputSource(new StringReader(data.asString()));
        } else {
            byte[] bytes = new byte[(int) data.getBufferSize()];
            data.readBuffer(0, bytes, 0, bytes.length);
            source = new InputSource(new ByteArrayInputStream(bytes));
            if (encoding != null) {
                source.setEncoding(encoding);
            }
        }
        try {
            SAXParserFactory factory = SAXParserFactory.newInstance();
            factory.setNamespaceAware(separator != null);
            XMLReader reader = factory.newSAXParser().getXMLReader();
            reader.setFeature("http://xml.org/sax/features/namespace-prefixes", separator == null);
            reader.setFeature("http://xml.org/sax/features/external-general-entities", false);
            reader.setFeature("http://xml.org/sax/features/external-parameter-entities", false);
            reader.setFeature("http://apache.org/xml/features/nonvalidating/load-external-dtd", false);
            reader.setProperty("http://xml.org/sax/properties/lexical-handler", handler);
            reader.setProperty("http://xml.org/sax/properties/declaration-handler", handler);
            reader.setContentHandler(handler);
            reader.setDTDHandler(handler);
            reader.setErrorHandler(handler);
            reader.parse(source);
            return null;
        } catch (SAXParseException e) {
            return new Object[] {e.getMessage(), e.getLineNumber(), Math.max(e.getColumnNumber() - 1, 0)};
        } catch (SAXException | ParserConfigurationException e) {
            return new Object[] {String.valueOf(e.getMessage()), handler.line(), handler.column()};
        } catch (IOException e) {
            return new Object[] {e.toString(), handler.line(), handler.column()};
        }
    }

    private int line() {
        return locator == null ? 1 : Math.max(locator.getLineNumber(), 1);
    }

    private int column() {
        return locator == null ? 0 : Math.max(locator.getColumnNumber() - 1, 0);
    }

    private void send(int kind, Object... args) {
        Object[] all = new Object[args.length + 3];
        all[0] = kind;
        all[1] = line();
        all[2] = column();
        System.arraycopy(args, 0, all, 3, args.length);
        emit.executeVoid(all);
    }

    private String name(String uri, String local, String qName) {
        if (separator == null) {
            return qName;
        }
        if (uri == null || uri.isEmpty()) {
            return local;
        }
        String name = uri + separator + local;
        int colon = qName.indexOf(':');
        return prefixes && colon > 0 ? name + separator + qName.substring(0, colon) : name;
    }

    @Override
    public void setDocumentLocator(Locator locator) {
        this.locator = locator;
    }

    @Override
    public void startElement(String uri, String localName, String qName, Attributes attributes) {
        int n = attributes.getLength();
        Object[] flat = new Object[2 * n];
        int k = 0;
        for (int i = 0; i < n; i++) {
            if (specifiedOnly && attributes instanceof Attributes2 a2 && !a2.isSpecified(i)) {
                continue;
            }
            flat[k++] = name(attributes.getURI(i), attributes.getLocalName(i), attributes.getQName(i));
            flat[k++] = attributes.getValue(i);
        }
        send(START_ELEMENT, name(uri, localName, qName), java.util.Arrays.copyOf(flat, k));
    }

    @Override
    public void endElement(String uri, String localName, String qName) {
        send(END_ELEMENT, name(uri, localName, qName));
    }

    @Override
    public void characters(char[] ch, int start, int length) {
        if (!inDtd) {
            send(CHARACTERS, new String(ch, start, length));
        }
    }

    @Override
    public void ignorableWhitespace(char[] ch, int start, int length) {
        characters(ch, start, length);
    }

    @Override
    public void processingInstruction(String target, String data) {
        send(PROCESSING_INSTRUCTION, target, data == null ? "" : data);
    }

    @Override
    public void comment(char[] ch, int start, int length) {
        if (!inDtd) {
            send(COMMENT, new String(ch, start, length));
        }
    }

    @Override
    public void startPrefixMapping(String prefix, String uri) {
        send(START_NAMESPACE, prefix.isEmpty() ? null : prefix, uri.isEmpty() ? null : uri);
    }

    @Override
    public void endPrefixMapping(String prefix) {
        send(END_NAMESPACE, prefix.isEmpty() ? null : prefix);
    }

    @Override
    public void startCDATA() {
        send(START_CDATA);
    }

    @Override
    public void endCDATA() {
        send(END_CDATA);
    }

    @Override
    public void startDTD(String name, String publicId, String systemId) {
        inDtd = true;
        send(START_DOCTYPE, name, systemId, publicId);
    }

    @Override
    public void endDTD() {
        inDtd = false;
        send(END_DOCTYPE);
    }

    @Override
    public void internalEntityDecl(String name, String value) {
        boolean parameter = name.startsWith("%");
        send(ENTITY_DECL, parameter ? name.substring(1) : name, parameter, value, null, null);
    }

    @Override
    public void externalEntityDecl(String name, String publicId, String systemId) {
        boolean parameter = name.startsWith("%");
        send(ENTITY_DECL, parameter ? name.substring(1) : name, parameter, null, systemId, publicId);
    }

    @Override
    public void attributeDecl(String eName, String aName, String type, String mode, String value) {
        send(ATTLIST_DECL, eName, aName, type, value, "#REQUIRED".equals(mode));
    }

    @Override
    public void notationDecl(String name, String publicId, String systemId) {
        send(NOTATION_DECL, name, systemId, publicId);
    }

    @Override
    public void unparsedEntityDecl(String name, String publicId, String systemId, String notationName) {
        send(UNPARSED_ENTITY_DECL, name, systemId, publicId, notationName);
    }

    @Override
    public void skippedEntity(String name) {
        if (!name.startsWith("%")) {
            send(SKIPPED_ENTITY, name);
        }
    }

    @Override
    public void fatalError(SAXParseException e) throws SAXException {
        throw e;
    }

    @Override
    public void error(SAXParseException e) {
        // validity errors: expat does not validate
    }
}
