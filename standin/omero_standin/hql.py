"""A small HQL parser: the subset of Hibernate's query language OMERO clients send, as a syntax tree.

Grammar (keywords case-insensitive)::

    query     := [select] from [where] [order]
    select    := SELECT [DISTINCT] item ("," item)*          item := expr [[AS] name]
    from      := FROM source ("," source)*                  source := Entity [[AS] alias] join*
    join      := [LEFT [OUTER] | INNER] JOIN [FETCH] path [[AS] alias]
    where     := WHERE cond
    order     := ORDER BY expr [ASC|DESC] ("," expr [ASC|DESC])*
    cond      := and (OR and)*          and := not (AND not)*          not := NOT not | pred
    pred      := "(" cond ")" | EXISTS "(" query ")" | expr [cmp expr | IS [NOT] NULL
                 | [NOT] IN "(" (list | query) ")" | [NOT] LIKE expr | [NOT] BETWEEN expr AND expr]
    cmp       := "=" | "!=" | "<>" | "<" | "<=" | ">" | ">="
    expr      := term ("||" term)*
    term      := literal | ":"param | path | func "(" [DISTINCT] [expr ("," expr)*] ")" | "(" expr ")"
    literal   := 'string' | number | TRUE | FALSE | NULL

A path is ``alias.field.field`` or, as Hibernate allows, a field of the single root entity
without its alias (``from Session where uuid = :uuid``). Subqueries (``exists``, ``in``) may
name the aliases of the query around them. ``type(alias)`` and ``alias.class`` compare with an
entity name (``type(a) = TagAnnotation``); ``index(alias)`` is an element's position in the
list it was joined from. Evaluation is ``hql_eval``'s job; anything outside this grammar
(``group by``, ``case``, arithmetic...) raises ``HqlError`` naming the query and the place.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

KEYWORDS = {
    "select", "distinct", "from", "as", "left", "outer", "inner", "join", "fetch", "where", "order", "by",
    "asc", "desc", "and", "or", "not", "is", "null", "in", "like", "between", "true", "false", "group",
    "exists", "case", "having",
}
_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>'(?:[^']|'')*')
      | (?P<number>\d+(?:\.\d+)?[lLfFdD]?)
      | (?P<param>:[A-Za-z_]\w*)
      | (?P<op><>|!=|<=|>=|=|<|>)
      | (?P<punct>\|\||[(),.*])
      | (?P<word>[A-Za-z_][\w$]*)
    )""",
    re.VERBOSE,
)


class HqlError(ValueError):
    """The query is not in the subset the stand-in understands; the message names it."""


# -- the syntax tree ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Literal:
    value: Any


@dataclass(frozen=True)
class Param:
    name: str


@dataclass(frozen=True)
class Path:
    parts: tuple[str, ...]


@dataclass(frozen=True)
class Func:
    name: str
    args: tuple[Any, ...]
    distinct: bool = False


@dataclass(frozen=True)
class Compare:
    op: str
    left: Any
    right: Any


@dataclass(frozen=True)
class IsNull:
    expr: Any
    negated: bool


@dataclass(frozen=True)
class In:
    expr: Any
    items: tuple[Any, ...]
    negated: bool


@dataclass(frozen=True)
class Like:
    expr: Any
    pattern: Any
    negated: bool


@dataclass(frozen=True)
class Between:
    expr: Any
    low: Any
    high: Any
    negated: bool


@dataclass(frozen=True)
class Exists:
    query: Query


@dataclass(frozen=True)
class Subquery:
    query: Query


@dataclass(frozen=True)
class BoolOp:
    op: str  # "and" | "or"
    items: tuple[Any, ...]


@dataclass(frozen=True)
class Not:
    item: Any


@dataclass(frozen=True)
class Join:
    path: Path
    alias: str
    left: bool
    fetch: bool = False


@dataclass(frozen=True)
class Source:
    entity: str
    alias: str
    joins: tuple[Join, ...] = ()


@dataclass(frozen=True)
class SelectItem:
    expr: Any
    alias: str | None = None


@dataclass(frozen=True)
class Order:
    expr: Any
    descending: bool


@dataclass(frozen=True)
class Query:
    text: str
    sources: tuple[Source, ...]
    select: tuple[SelectItem, ...] = ()
    distinct: bool = False
    where: Any = None
    order: tuple[Order, ...] = field(default=())

    @property
    def root(self) -> Source:
        return self.sources[0]


# -- tokens -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Token:
    kind: str  # string | number | param | op | punct | word | end
    text: str
    pos: int

    @property
    def keyword(self) -> str | None:
        return self.text.lower() if self.kind == "word" and self.text.lower() in KEYWORDS else None


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise HqlError(f"cannot read HQL at position {pos}: {text[pos:pos + 20]!r} in {text!r}")
        kind = m.lastgroup or ""
        tokens.append(Token(kind, m.group(kind), m.start(kind)))
        pos = m.end()
    tokens.append(Token("end", "", len(text)))
    return tokens


# -- the parser ---------------------------------------------------------------------------------------


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0

    # token helpers
    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def next(self) -> Token:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def at(self, *keywords: str) -> bool:
        return self.tok.keyword in keywords

    def accept(self, *keywords: str) -> bool:
        if self.at(*keywords):
            self.i += 1
            return True
        return False

    def expect(self, keyword: str) -> None:
        if not self.accept(keyword):
            self.fail(f"expected {keyword.upper()}")

    def accept_punct(self, text: str) -> bool:
        if self.tok.kind == "punct" and self.tok.text == text:
            self.i += 1
            return True
        return False

    def expect_punct(self, text: str) -> None:
        if not self.accept_punct(text):
            self.fail(f"expected {text!r}")

    def name(self) -> str:
        tok = self.tok
        if tok.kind != "word" or tok.keyword is not None:
            self.fail("expected a name")
        self.i += 1
        return tok.text

    def fail(self, problem: str) -> None:
        where = self.tok.text or "end of query"
        raise HqlError(f"{problem} at {where!r} (position {self.tok.pos}) in HQL {self.text!r}")

    # grammar
    def query(self) -> Query:
        query = self.query_body()
        if self.tok.kind != "end":
            self.fail("unexpected text")
        return query

    def subquery(self) -> Query:
        """A query inside parentheses (the "(" already read); reads the closing ")"."""
        start = self.tok.pos
        query = self.query_body()
        end = self.tok.pos
        self.expect_punct(")")
        return Query(self.text[start:end].strip(), query.sources, query.select, query.distinct, query.where,
                     query.order)

    def query_body(self) -> Query:
        select: tuple[SelectItem, ...] = ()
        distinct = False
        if self.accept("select"):
            distinct = self.accept("distinct")
            items = [self.select_item()]
            while self.accept_punct(","):
                items.append(self.select_item())
            select = tuple(items)
        self.expect("from")
        sources = [self.source()]
        while self.accept_punct(","):
            sources.append(self.source())
        where = None
        if self.accept("where"):
            where = self.condition()
        order: list[Order] = []
        if self.at("group", "having"):
            self.fail(f"{'GROUP BY' if self.at('group') else 'HAVING'} is not supported by the stand-in")
        if self.accept("order"):
            self.expect("by")
            order.append(self.order_item())
            while self.accept_punct(","):
                order.append(self.order_item())
        return Query(self.text, tuple(sources), select, distinct, where, tuple(order))

    def select_item(self) -> SelectItem:
        expr = self.expr()
        alias = None
        if self.accept("as"):
            alias = self.name()
        return SelectItem(expr, alias)

    def source(self) -> Source:
        entity = self.name()
        alias = self.optional_alias() or entity
        joins: list[Join] = []
        while self.at("left", "inner", "join"):
            left = False
            if self.accept("left"):
                left = True
                self.accept("outer")
            else:
                self.accept("inner")
            self.expect("join")
            fetch = self.accept("fetch")
            path = self.path()
            joins.append(Join(path, self.optional_alias() or "_".join(path.parts), left, fetch))
        return Source(entity, alias, tuple(joins))

    def optional_alias(self) -> str | None:
        if self.accept("as"):
            return self.name()
        if self.tok.kind == "word" and self.tok.keyword is None:
            return self.name()
        return None

    def path(self) -> Path:
        parts = [self.name()]
        while self.accept_punct("."):
            parts.append(self.member())
        return Path(tuple(parts))

    def member(self) -> str:
        """A property name after a dot: any word, keywords too (``details.group``)."""
        tok = self.tok
        if tok.kind != "word":
            self.fail("expected a property name")
        self.i += 1
        return tok.text

    def order_item(self) -> Order:
        expr = self.expr()
        descending = False
        if self.accept("desc"):
            descending = True
        else:
            self.accept("asc")
        return Order(expr, descending)

    def condition(self) -> Any:
        items = [self.conjunction()]
        while self.accept("or"):
            items.append(self.conjunction())
        return items[0] if len(items) == 1 else BoolOp("or", tuple(items))

    def conjunction(self) -> Any:
        items = [self.negation()]
        while self.accept("and"):
            items.append(self.negation())
        return items[0] if len(items) == 1 else BoolOp("and", tuple(items))

    def negation(self) -> Any:
        if self.accept("not"):
            return Not(self.negation())
        return self.predicate()

    def predicate(self) -> Any:
        if self.accept("exists"):
            self.expect_punct("(")
            return Exists(self.subquery())
        if self.tok.kind == "punct" and self.tok.text == "(" and self._parenthesised_condition():
            self.next()
            cond = self.condition()
            self.expect_punct(")")
            return cond
        left = self.expr()
        if self.tok.kind == "op":
            op = self.next().text
            return Compare("!=" if op == "<>" else op, left, self.expr())
        if self.accept("is"):
            negated = self.accept("not")
            self.expect("null")
            return IsNull(left, negated)
        negated = self.accept("not")
        if self.accept("in"):
            self.expect_punct("(")
            if self.at("select", "from"):
                return In(left, (Subquery(self.subquery()),), negated)
            items = [self.expr()]
            while self.accept_punct(","):
                items.append(self.expr())
            self.expect_punct(")")
            return In(left, tuple(items), negated)
        if self.accept("like"):
            return Like(left, self.expr(), negated)
        if self.accept("between"):
            low = self.expr()
            self.expect("and")
            return Between(left, low, self.expr(), negated)
        self.fail("expected a comparison")
        raise AssertionError  # unreachable

    def _parenthesised_condition(self) -> bool:
        """Does the "(" here open a condition (not a parenthesised value)? Look for a comparison inside."""
        depth, j = 0, self.i
        while j < len(self.tokens):
            tok = self.tokens[j]
            if tok.kind == "punct" and tok.text == "(":
                depth += 1
            elif tok.kind == "punct" and tok.text == ")":
                depth -= 1
                if depth == 0:
                    return False
            elif depth == 1 and (tok.kind == "op" or tok.keyword in ("and", "or", "not", "is", "in", "like",
                                                                      "between", "exists")):
                return True
            elif depth == 1 and tok.keyword in ("select", "from"):
                return False
            elif tok.kind == "end":
                return False
            j += 1
        return False

    def expr(self) -> Any:
        left = self.term()
        while self.accept_punct("||"):
            left = Func("concat", (left, self.term()))
        return left

    def term(self) -> Any:
        tok = self.tok
        if tok.keyword == "case":
            self.fail("CASE is not supported by the stand-in")
        if tok.kind == "string":
            self.next()
            return Literal(tok.text[1:-1].replace("''", "'"))
        if tok.kind == "number":
            self.next()
            text = tok.text.rstrip("lLfFdD")
            return Literal(float(text) if "." in text else int(text))
        if tok.kind == "param":
            self.next()
            return Param(tok.text[1:])
        if tok.keyword in ("true", "false"):
            self.next()
            return Literal(tok.keyword == "true")
        if tok.keyword == "null":
            self.next()
            return Literal(None)
        if self.accept_punct("("):
            inner = self.expr()
            self.expect_punct(")")
            return inner
        if tok.kind == "word" and tok.keyword is None:
            if self.tokens[self.i + 1].kind == "punct" and self.tokens[self.i + 1].text == "(":
                name = self.next().text.lower()
                self.next()
                distinct = self.accept("distinct")
                args: list[Any] = []
                if self.accept_punct("*"):
                    args.append(Literal("*"))
                elif not (self.tok.kind == "punct" and self.tok.text == ")"):
                    args.append(self.expr())
                    while self.accept_punct(","):
                        args.append(self.expr())
                self.expect_punct(")")
                return Func(name, tuple(args), distinct)
            return self.path()
        self.fail("expected a value")
        raise AssertionError  # unreachable


def parse(text: str) -> Query:
    """The syntax tree of an HQL query; HqlError if it is outside the supported subset."""
    if not isinstance(text, str) or not text.strip():
        raise HqlError("empty HQL query")
    return _Parser(text.strip()).query()
