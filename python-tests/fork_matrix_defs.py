"""The definitions of the fork-semantics matrix (``test_fork_semantics.py``).

Not imported as it is: the test writes this text three times into a program, with ``_X``
replaced by ``_T`` (top level of ``__main__``), ``_G`` (under ``if __name__ ==
"__main__":``) and ``_M`` (a module of the program). ``KINDS_X`` maps each kind to
``(task callable or None, task args, task kwargs, sample)``; every sample is a global.
"""

import abc
import collections
import dataclasses
import enum
import functools
import typing


class Plain_X:
    def __init__(self, v):
        self.v = v

    def show(self):
        return f"Plain({self.v})"


@dataclasses.dataclass
class Data_X:
    x: int
    y: int = 2
    tags: list = dataclasses.field(default_factory=list)


@dataclasses.dataclass(frozen=True)
class Frozen_X:
    x: int


@dataclasses.dataclass(slots=True)
class SlotData_X:
    x: int
    y: int = 0


class Color_X(enum.Enum):
    RED = 1
    GREEN = 2

    def label(self):
        return self.name.lower()


class Level_X(enum.IntEnum):
    LOW = 1
    HIGH = 2


class Perm_X(enum.Flag):
    R = 1
    W = 2
    X = 4


class Mode_X(enum.IntFlag):
    A = 1
    B = 2


class Pair_X(typing.NamedTuple):
    a: int
    b: str = "b"

    def both(self):
        return f"{self.a}{self.b}"


Point_X = collections.namedtuple("Point_X", "x y")


class Movie_X(typing.TypedDict):
    title: str
    year: int


class Shape_X(abc.ABC):
    @abc.abstractmethod
    def area(self):
        ...


class Virtual_X:
    def area(self):
        return 0


Shape_X.register(Virtual_X)


class Square_X(Shape_X):
    def __init__(self, side):
        self.side = side
        self.abc = Shape_X
        self.virtual = Virtual_X()

    def area(self):
        return self.side * self.side


@typing.runtime_checkable
class Sized_X(typing.Protocol):
    def size(self) -> int:
        ...


class Bag_X:
    def __init__(self, n):
        self.n = n
        self.proto = Sized_X

    def size(self):
        return self.n


T_X = typing.TypeVar("T_X")


class Box_X(typing.Generic[T_X]):
    def __init__(self, item: T_X):
        self.item = item

    def get(self) -> T_X:
        return self.item


class Meta_X(type):
    def __new__(mcs, name, bases, ns):
        ns["tag"] = name.lower()
        return super().__new__(mcs, name, bases, ns)


class WithMeta_X(metaclass=Meta_X):
    def __init__(self, v):
        self.v = v


class Base_X:
    registry = []

    def __init_subclass__(cls, tag="", **kwargs):
        super().__init_subclass__(**kwargs)
        cls.tag = tag
        Base_X.registry.append(cls.__name__)


class Child_X(Base_X, tag="child"):
    pass


def decorate_X(cls):
    cls.decorated = "yes"
    return cls


@decorate_X
class Tagged_X:
    pass


class Methods_X:
    factor = 2

    def __init__(self, v):
        self.v = v

    @classmethod
    def make(cls, v):
        return cls(v)

    @staticmethod
    def twice(x):
        return 2 * x

    @property
    def double(self):
        return self.v * self.factor

    @functools.cached_property
    def expensive(self):
        return self.v + 100


class Slots_X:
    __slots__ = ("a", "b")

    def __init__(self, a, b):
        self.a, self.b = a, b


class Outer_X:
    class Inner_X:
        def __init__(self, v):
            self.v = v


class Error_X(Exception):
    pass


class CodeError_X(Exception):
    def __init__(self, code, text):
        super().__init__(code, text)
        self.code = code


def times_ten_X(func):
    @functools.wraps(func)
    def wrapper(*args):
        return func(*args) * 10
    return wrapper


@times_ten_X
def scaled_X(x):
    """Scaled."""
    return x + 1


@functools.lru_cache(maxsize=None)
def fib_X(n):
    return n if n < 2 else fib_X(n - 1) + fib_X(n - 2)


def power_X(base, exp):
    return base ** exp


square_X = functools.partial(power_X, exp=2)


@functools.singledispatch
def kind_of_X(x):
    return "any"


@kind_of_X.register
def _(x: int):
    return "int"


@kind_of_X.register(str)
def _(x):
    return "str"


def fact_X(n):
    return 1 if n <= 1 else n * fact_X(n - 1)


def is_even_X(n):
    return True if n == 0 else is_odd_X(n - 1)


def is_odd_X(n):
    return False if n == 0 else is_even_X(n - 1)


GREETING_X = "hello"


def greet_X(name: str, greeting: str = GREETING_X, *, punct: str = "!") -> str:
    return f"{greeting} {name}{punct}"


FACTOR_X = 3
TABLE_X = {"k": 7}


def offset_X(x):
    return x + 1


def scale_X(x):
    return x * FACTOR_X + TABLE_X["k"] + offset_X(1)


double_X = lambda x: x * 2  # noqa: E731


def make_adder_X(n):
    def add(x):
        return x + n
    return add


add3_X = make_adder_X(3)


class Counter_X:
    count = 0  # the program sets it to 5 before its pools start


class Node_X:
    def __init__(self, name):
        self.name = name
        self.peer = None


node_a_X, node_b_X = Node_X("a"), Node_X("b")
node_a_X.peer, node_b_X.peer = node_b_X, node_a_X

plain_X = Plain_X(3)
data_X = Data_X(1, 5, ["t"])
frozen_X = Frozen_X(4)
slot_data_X = SlotData_X(1, 2)
pair_X = Pair_X(1)
point_X = Point_X(1, 2)
movie_X = Movie_X(title="Up", year=2009)
square_inst_X = Square_X(2)
bag_X = Bag_X(4)
box_X = Box_X(5)
with_meta_X = WithMeta_X(2)
child_X = Child_X()
tagged_X = Tagged_X()
methods_X = Methods_X(3)
methods_X.expensive  # cached in the instance
slots_X = Slots_X(1, 2)
inner_X = Outer_X.Inner_X(4)
error_X = Error_X("boom")
code_error_X = CodeError_X(3, "three")
counter_X = Counter_X()

KINDS_X = {
    "plain": (Plain_X, (3,), {}, plain_X),
    "dataclass": (Data_X, (1, 5, ["t"]), {}, data_X),
    "frozen-dataclass": (Frozen_X, (4,), {}, frozen_X),
    "slots-dataclass": (SlotData_X, (1, 2), {}, slot_data_X),
    "enum": (Color_X, (2,), {}, Color_X.GREEN),
    "intenum": (Level_X, (2,), {}, Level_X.HIGH),
    "flag": (Perm_X, (3,), {}, Perm_X.R | Perm_X.W),
    "intflag": (Mode_X, (3,), {}, Mode_X.A | Mode_X.B),
    "namedtuple": (Pair_X, (1,), {}, pair_X),
    "collections-namedtuple": (Point_X, (1, 2), {}, point_X),
    "typeddict": (Movie_X, (), {"title": "Up", "year": 2009}, movie_X),
    "abc": (Square_X, (2,), {}, square_inst_X),
    "protocol": (Bag_X, (4,), {}, bag_X),
    "generic": (Box_X, (5,), {}, box_X),
    "metaclass": (WithMeta_X, (2,), {}, with_meta_X),
    "init-subclass": (Child_X, (), {}, child_X),
    "class-decorator": (Tagged_X, (), {}, tagged_X),
    "methods": (Methods_X, (3,), {}, methods_X),
    "slots": (Slots_X, (1, 2), {}, slots_X),
    "nested-class": (Outer_X.Inner_X, (4,), {}, inner_X),
    "exception": (Error_X, ("boom",), {}, error_X),
    "exception-init": (CodeError_X, (3, "three"), {}, code_error_X),
    "wraps": (scaled_X, (4,), {}, scaled_X),
    "lru-cache": (fib_X, (10,), {}, fib_X),
    "partial": (square_X, (3,), {}, square_X),
    "singledispatch": (kind_of_X, (7,), {}, kind_of_X),
    "recursive": (fact_X, (5,), {}, fact_X),
    "mutually-recursive": (is_even_X, (10,), {}, is_even_X),
    "defaults-annotations": (greet_X, ("ann",), {}, greet_X),
    "globals": (scale_X, (2,), {}, scale_X),
    "lambda": (double_X, (21,), {}, double_X),
    "closure": (add3_X, (4,), {}, add3_X),
    "class-attribute-changed": (Counter_X, (), {}, counter_X),
    "cycle": (None, (), {}, node_a_X),
}
