"""``pyexpat`` on the JDK's SAX parser (``dev.polypool.stdlib.SaxEvents``).

GraalPy's ``pyexpat`` is native code, which loads into one context per process; polypool puts
this module before it on ``sys.path`` so that ``xml.etree.ElementTree``, ``xml.dom.minidom``,
``xml.sax``, ``plistlib`` and ``xmlrpc`` parse XML in the main program and in every worker.

The API is CPython's; the differences: a document is parsed when ``Parse`` gets
``isfinal=True`` (or by ``ParseFile``), so handlers run then, not chunk by chunk during
earlier ``Parse`` calls; entity and attribute-list declarations are reported as SAX gives them
and ``ElementDeclHandler`` is never called; error codes are derived from the SAX message;
``CurrentLineNumber``/``CurrentColumnNumber`` are the position after the current event.
"""

import re as _re

import polyglot as _polyglot

_java = _polyglot.import_value("polypool.stdlib")

EXPAT_VERSION = "expat_2.5.0"
version_info = (2, 5, 0)
native_encoding = "UTF-8"
features = [("sizeof(XML_Char)", 1), ("sizeof(XML_LChar)", 1), ("XML_DTD", 0),
            ("XML_CONTEXT_BYTES", 1024), ("XML_NS", 0)]

XML_PARAM_ENTITY_PARSING_NEVER = 0
XML_PARAM_ENTITY_PARSING_UNLESS_STANDALONE = 1
XML_PARAM_ENTITY_PARSING_ALWAYS = 2

_MESSAGES = [
    "out of memory", "syntax error", "no element found", "not well-formed (invalid token)",
    "unclosed token", "partial character", "mismatched tag", "duplicate attribute",
    "junk after document element", "illegal parameter entity reference", "undefined entity",
    "recursive entity reference", "asynchronous entity", "reference to invalid character number",
    "reference to binary entity", "reference to external entity in attribute",
    "XML or text declaration not at start of entity", "unknown encoding",
    "encoding specified in XML declaration is incorrect", "unclosed CDATA section",
    "error in processing external entity reference", "document is not standalone",
    "unexpected parser state - please send a bug report", "entity declared in parameter entity",
    "requested feature requires XML_DTD support in Expat", "cannot change setting once parsing has begun",
    "unbound prefix", "must not undeclare prefix", "incomplete markup in parameter entity",
    "XML declaration not well-formed", "text declaration not well-formed",
    "illegal character(s) in public id", "parser suspended", "parser not suspended", "parsing aborted",
    "parsing finished", "cannot suspend in external parameter entity",
    "reserved prefix (xml) must not be undeclared or bound to another namespace name",
    "reserved prefix (xmlns) must not be declared or undeclared",
    "prefix must not be bound to one of the reserved namespace names", "invalid argument",
    "a successful prior call to function XML_GetBuffer is required",
    "limit on input amplification factor (from DTD and entities) breached",
]
_NAMES = [
    "NO_MEMORY", "SYNTAX", "NO_ELEMENTS", "INVALID_TOKEN", "UNCLOSED_TOKEN", "PARTIAL_CHAR",
    "TAG_MISMATCH", "DUPLICATE_ATTRIBUTE", "JUNK_AFTER_DOC_ELEMENT", "PARAM_ENTITY_REF",
    "UNDEFINED_ENTITY", "RECURSIVE_ENTITY_REF", "ASYNC_ENTITY", "BAD_CHAR_REF", "BINARY_ENTITY_REF",
    "ATTRIBUTE_EXTERNAL_ENTITY_REF", "MISPLACED_XML_PI", "UNKNOWN_ENCODING", "INCORRECT_ENCODING",
    "UNCLOSED_CDATA_SECTION", "EXTERNAL_ENTITY_HANDLING", "NOT_STANDALONE", "UNEXPECTED_STATE",
    "ENTITY_DECLARED_IN_PE", "FEATURE_REQUIRES_XML_DTD", "CANT_CHANGE_FEATURE_ONCE_PARSING",
    "UNBOUND_PREFIX", "UNDECLARING_PREFIX", "INCOMPLETE_PE", "XML_DECL", "TEXT_DECL", "PUBLICID",
    "SUSPENDED", "NOT_SUSPENDED", "ABORTED", "FINISHED", "SUSPEND_PE", "RESERVED_PREFIX_XML",
    "RESERVED_PREFIX_XMLNS", "RESERVED_NAMESPACE_URI", "INVALID_ARGUMENT", "NO_BUFFER",
    "AMPLIFICATION_LIMIT_BREACH",
]


class _Namespace:
    def __init__(self, name, doc, **values):
        self.__name__ = name
        self.__doc__ = doc
        self.__dict__.update(values)


errors = _Namespace(
    "pyexpat.errors", "Constants used to describe error conditions.",
    codes={m: i for i, m in enumerate(_MESSAGES, 1)},
    messages=dict(enumerate(_MESSAGES, 1)),
    **{"XML_ERROR_" + n: m for n, m in zip(_NAMES, _MESSAGES)})
model = _Namespace(
    "pyexpat.model", "Constants used to interpret content model information.",
    XML_CTYPE_EMPTY=1, XML_CTYPE_ANY=2, XML_CTYPE_MIXED=3, XML_CTYPE_NAME=4, XML_CTYPE_CHOICE=5,
    XML_CTYPE_SEQ=6, XML_CQUANT_NONE=0, XML_CQUANT_OPT=1, XML_CQUANT_REP=2, XML_CQUANT_PLUS=3)


class ExpatError(Exception):
    pass


error = ExpatError


def ErrorString(code):
    """Returns string error for given number."""
    return errors.messages.get(code)


# SAX messages (Xerces, in English) -> expat error codes; anything else is "invalid token"
_ERROR_PATTERNS = [
    (r"must be terminated by the matching end-tag", 7),
    (r"Premature end of file|must start and end within the same entity|must be well-formed"
     r".*root element.*preced", 3),
    (r"following the root element must be well-formed|Content is not allowed in trailing", 9),
    (r"was referenced, but not declared", 11),
    (r"was already specified for element", 8),
    (r"Content is not allowed in prolog", 2),
    (r"recursive entity reference", 12),
    (r"CDATA section", 20),
    (r"The prefix \".*\" for (element|attribute) .* is not bound", 27),
    (r"XML declaration|encoding declaration|version is required", 30),
    (r"Invalid byte|Invalid encoding name|not supported|unknown encoding", 18),
    (r"entity expansion|entityExpansionLimit|JAXP00010", 43),
]
_ERROR_PATTERNS = [(_re.compile(p, _re.S), c) for p, c in _ERROR_PATTERNS]

_XML_DECL = _re.compile(
    r"""<\?xml\s+version\s*=\s*(["'])(?P<version>[^"']*)\1"""
    r"""(?:\s+encoding\s*=\s*(["'])(?P<encoding>[^"']*)\3)?"""
    r"""(?:\s+standalone\s*=\s*(["'])(?P<standalone>yes|no)\5)?\s*\?>""")

# event kinds of SaxEvents.java
(_START, _END, _CHARS, _PI, _COMMENT, _START_NS, _END_NS, _START_CDATA, _END_CDATA,
 _START_DOCTYPE, _END_DOCTYPE, _ENTITY_DECL, _NOTATION_DECL, _UNPARSED_ENTITY_DECL,
 _SKIPPED_ENTITY, _ATTLIST_DECL) = range(16)

_HANDLERS = (
    "StartElementHandler", "EndElementHandler", "ProcessingInstructionHandler",
    "CharacterDataHandler", "UnparsedEntityDeclHandler", "NotationDeclHandler",
    "StartNamespaceDeclHandler", "EndNamespaceDeclHandler", "CommentHandler",
    "StartCdataSectionHandler", "EndCdataSectionHandler", "DefaultHandler",
    "DefaultHandlerExpand", "NotStandaloneHandler", "ExternalEntityRefHandler",
    "StartDoctypeDeclHandler", "EndDoctypeDeclHandler", "EntityDeclHandler", "XmlDeclHandler",
    "ElementDeclHandler", "AttlistDeclHandler", "SkippedEntityHandler",
)


class XMLParserType:
    """XML parser"""

    def __init__(self, encoding, namespace_separator, intern):
        for name in _HANDLERS:
            object.__setattr__(self, name, None)
        self._encoding = encoding
        self._separator = namespace_separator
        self.intern = intern
        self.buffer_text = False
        self.buffer_size = 8192
        self.namespace_prefixes = False
        self.ordered_attributes = False
        self.specified_attributes = False
        self._chunks = []
        self._text = []
        self._base = None
        self._finished = False
        self._started = False
        self._reparse_deferral = True
        self.ErrorCode = 0
        self.ErrorLineNumber = 1
        self.ErrorColumnNumber = 0
        self.ErrorByteIndex = -1
        self.CurrentLineNumber = 1
        self.CurrentColumnNumber = 0
        self.CurrentByteIndex = -1

    def __setattr__(self, name, value):
        if name == "buffer_size":
            if not isinstance(value, int):
                raise TypeError("buffer_size must be an integer")
            if value <= 0:
                raise ValueError("buffer_size must be greater than zero")
        elif name == "buffer_text" and not value and getattr(self, "_text", None):
            self._flush()
        object.__setattr__(self, name, value)

    @property
    def buffer_used(self):
        return sum(map(len, self._text))

    def Parse(self, data, isfinal=False, /):
        """Parse XML data. `isfinal' should be true at end of input."""
        if self._finished:
            self._raise(36, self.ErrorLineNumber, self.ErrorColumnNumber)
        if isinstance(data, str):
            # as expat: a str is parsed as UTF-8 whatever the document declares
            self._chunks.append(data.encode("utf-8"))
            self._encoding_override = "utf-8"
        elif data:
            self._chunks.append(bytes(memoryview(data)))
        self._started = True
        if not isfinal:
            return 1
        self._finished = True
        document = b"".join(self._chunks)
        self._chunks = []
        self._parse(document)
        return 1

    def ParseFile(self, file, /):
        """Parse XML data from file-like object."""
        read = file.read
        while True:
            chunk = read(self.buffer_size)
            if not chunk:
                break
            if not isinstance(chunk, (bytes, bytearray, str)):
                raise TypeError(f"read() did not return a bytes object (type={type(chunk).__name__})")
            self.Parse(chunk, False)
        return self.Parse(b"", True)

    def SetBase(self, base, /):
        self._base = base

    def GetBase(self):
        return self._base

    def GetInputContext(self):
        return None

    def ExternalEntityParserCreate(self, context, encoding=None, /):
        parser = XMLParserType(encoding or self._encoding, self._separator, self.intern)
        for name in _HANDLERS:
            object.__setattr__(parser, name, getattr(self, name))
        return parser

    def SetParamEntityParsing(self, flag, /):
        return 0

    def UseForeignDTD(self, flag=True, /):
        if self._started:
            self._raise(26, 1, 0)

    def GetReparseDeferralEnabled(self):
        return self._reparse_deferral

    def SetReparseDeferralEnabled(self, enabled, /):
        self._reparse_deferral = bool(enabled)

    # --- parsing ---

    def _raise(self, code, line, column):
        self.ErrorCode = code
        self.ErrorLineNumber = line
        self.ErrorColumnNumber = column
        err = ExpatError(f"{ErrorString(code)}: line {line}, column {column}")
        err.code = code
        err.lineno = line
        err.offset = column
        raise err

    def _name(self, name):
        if self.intern is not None:
            return self.intern.setdefault(name, name)
        return name

    def _flush(self):
        text = "".join(self._text)
        self._text.clear()
        handler = self.CharacterDataHandler
        if text and handler is not None:
            handler(text)
        elif text and self.DefaultHandlerExpand is not None:
            self.DefaultHandlerExpand(text)
        elif text and self.DefaultHandler is not None:
            self.DefaultHandler(text)

    def _parse(self, document):
        encoding = getattr(self, "_encoding_override", None) or self._encoding
        self._xml_decl(document, encoding)
        separator = self._separator
        failure = _java.parseXml(document, encoding, separator, bool(self.namespace_prefixes),
                                 bool(self.specified_attributes), self._emit)
        if self._text:
            self._flush()
        if failure is not None:
            message, line, column = failure[0], failure[1], failure[2]
            if not document.strip():
                code = 3
            else:
                code = next((c for p, c in _ERROR_PATTERNS if p.search(message)), 4)
            self._raise(code, line, column)

    def _xml_decl(self, document, encoding):
        handler = self.XmlDeclHandler
        if handler is None or not document.startswith(b"<?xml"):
            return
        end = document.find(b"?>")
        head = document[:end + 2].decode("latin-1")
        m = _XML_DECL.match(head)
        if m is not None:
            standalone = {"yes": 1, "no": 0}.get(m.group("standalone"), -1)
            handler(m.group("version"), m.group("encoding"), standalone)

    def _emit(self, kind, line, column, *args):
        self.CurrentLineNumber = line
        self.CurrentColumnNumber = column
        if kind == _CHARS:
            if self.buffer_text:
                self._text.append(args[0])
            elif self.CharacterDataHandler is not None:
                self.CharacterDataHandler(args[0])
            elif self.DefaultHandlerExpand is not None:
                self.DefaultHandlerExpand(args[0])
            elif self.DefaultHandler is not None:
                self.DefaultHandler(args[0])
            return
        if self._text:
            self._flush()
        if kind == _START:
            handler = self.StartElementHandler
            if handler is None:
                return
            flat = [self._name(str(x)) if i % 2 == 0 else str(x) for i, x in enumerate(args[1])]
            if self.ordered_attributes:
                attributes = flat
            else:
                attributes = dict(zip(flat[::2], flat[1::2]))
            handler(self._name(args[0]), attributes)
        elif kind == _END:
            if self.EndElementHandler is not None:
                self.EndElementHandler(self._name(args[0]))
        elif kind == _PI:
            if self.ProcessingInstructionHandler is not None:
                self.ProcessingInstructionHandler(args[0], args[1])
        elif kind == _COMMENT:
            if self.CommentHandler is not None:
                self.CommentHandler(args[0])
        elif kind == _START_NS:
            if self.StartNamespaceDeclHandler is not None:
                self.StartNamespaceDeclHandler(args[0], args[1])
        elif kind == _END_NS:
            if self.EndNamespaceDeclHandler is not None:
                self.EndNamespaceDeclHandler(args[0])
        elif kind == _START_CDATA:
            if self.StartCdataSectionHandler is not None:
                self.StartCdataSectionHandler()
        elif kind == _END_CDATA:
            if self.EndCdataSectionHandler is not None:
                self.EndCdataSectionHandler()
        elif kind == _START_DOCTYPE:
            if self.StartDoctypeDeclHandler is not None:
                # has_internal_subset is not known from SAX; 0 unless declarations follow
                self.StartDoctypeDeclHandler(args[0], args[1], args[2], 0)
        elif kind == _END_DOCTYPE:
            if self.EndDoctypeDeclHandler is not None:
                self.EndDoctypeDeclHandler()
        elif kind == _ENTITY_DECL:
            if self.EntityDeclHandler is not None:
                name, is_parameter, value, system_id, public_id = args
                self.EntityDeclHandler(name, int(is_parameter), value, self._base,
                                       system_id, public_id, None)
        elif kind == _NOTATION_DECL:
            if self.NotationDeclHandler is not None:
                self.NotationDeclHandler(args[0], self._base, args[1], args[2])
        elif kind == _UNPARSED_ENTITY_DECL:
            if self.UnparsedEntityDeclHandler is not None:
                self.UnparsedEntityDeclHandler(args[0], self._base, args[1], args[2], args[3])
            elif self.EntityDeclHandler is not None:
                self.EntityDeclHandler(args[0], 0, None, self._base, args[1], args[2], args[3])
        elif kind == _ATTLIST_DECL:
            if self.AttlistDeclHandler is not None:
                element, attribute, type_, default, required = args
                self.AttlistDeclHandler(element, attribute, type_, default, int(required))
        elif kind == _SKIPPED_ENTITY:
            reference = "&" + args[0] + ";"
            if self.SkippedEntityHandler is not None:
                self.SkippedEntityHandler(args[0], 0)
            elif self.DefaultHandlerExpand is not None:
                self.DefaultHandlerExpand(reference)
            elif self.DefaultHandler is not None:
                self.DefaultHandler(reference)


_NO_INTERN_GIVEN = object()


def ParserCreate(encoding=None, namespace_separator=None, intern=_NO_INTERN_GIVEN):
    """Return a new XML parser object."""
    if encoding is not None and not isinstance(encoding, str):
        raise TypeError(f"ParserCreate() argument 'encoding' must be str or None, not {type(encoding).__name__}")
    if namespace_separator is not None:
        if not isinstance(namespace_separator, str):
            raise TypeError("ParserCreate() argument 'namespace_separator' must be str or None, "
                            f"not {type(namespace_separator).__name__}")
        if len(namespace_separator) > 1:
            raise ValueError("namespace_separator must be at most one character, omitted, or None")
    if intern is _NO_INTERN_GIVEN:
        intern = {}
    elif intern is not None and not isinstance(intern, dict):
        raise TypeError("intern must be a dictionary")
    return XMLParserType(encoding, namespace_separator, intern)
