"""Flux's envsubst parser (fluxcd/pkg `envsubst/parse`), step for step, over UTF-8 bytes.

Flux's scanner is quirky and its quirks decide what a manifest becomes, so this keeps its state machine:
byte positions, the width of the last rune read (a peek changes it), escapes removed from the buffer in
place, a NUL byte read as the end of input. Only `${` opens an expression; a bare `$var` is text, and at
top level `$$` is one `$`. Inside replace arguments `\\/` and `\\\\` are escapes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

EOF = 0  # Go's `eof = rune(0)`: a NUL byte in the text ends it too
_RUNE_ERROR = 0xFFFD

# tokens
_ILLEGAL, _EOF, _IDENT, _LBRACK, _RBRACK = range(5)
# scanner modes
SCAN_IDENT, SCAN_LBRACK, SCAN_RBRACK, SCAN_ESCAPE = 1, 2, 4, 8
# escape characters
_DOLLAR, _BACKSLASH = 1, 2
_ESCAPE_ALL = _DOLLAR | _BACKSLASH

Accept = Callable[[int, int], bool]  # (rune, its offset in the token, 1-based) -> accepted


class ParseError(ValueError):
    """Flux's parse errors, worded as Flux words them."""


BAD_SUBSTITUTION = "bad substitution"
MISSING_CLOSING_BRACE = "missing closing brace"
PARSE_VARIABLE_NAME = "unable to parse variable name"
PARSE_FUNC_SUBSTITUTION = "unable to parse substitution within function"
PARSE_DEFAULT_FUNCTION = "unable to parse default function"


@dataclass(frozen=True)
class Text:
    value: bytes


@dataclass(frozen=True)
class Func:
    """`${param}` (name empty) or an operator `name` with its argument nodes."""

    param: bytes
    name: bytes = b""
    args: tuple[Node, ...] = ()


@dataclass(frozen=True)
class Sequence:
    nodes: tuple[Node, ...] = field(default=())


Node = Text | Func | Sequence
_EMPTY = Text(b"")


def decode_rune(buf: bytes | bytearray, pos: int) -> tuple[int, int]:
    """Go's utf8.DecodeRune: (rune, width); an invalid sequence is (U+FFFD, 1)."""
    lead = buf[pos]
    if lead < 0x80:
        return lead, 1
    size = 2 if 0xC2 <= lead <= 0xDF else 3 if 0xE0 <= lead <= 0xEF else 4 if 0xF0 <= lead <= 0xF4 else 0
    try:
        return ord(bytes(buf[pos:pos + size]).decode("utf-8")), size
    except (UnicodeDecodeError, TypeError):
        return _RUNE_ERROR, 1


def _is_letter(r: int) -> bool:
    return chr(r).isalpha()


def _is_digit(r: int) -> bool:
    return chr(r).isdecimal()


def _accept_rune(r: int, i: int) -> bool:
    return True


def _accept_ident(r: int, i: int) -> bool:
    return _is_letter(r) or _is_digit(r) or r == ord("_")


def _accept_colon(r: int, i: int) -> bool:
    return r == ord(":")


def _accept_one_hash(r: int, i: int) -> bool:
    return r == ord("#") and i == 1


def _accept_not_closing(r: int, i: int) -> bool:
    return r != ord("}")


def _accept_hash_func(r: int, i: int) -> bool:
    return r == ord("#") and i < 3


def _accept_percent_func(r: int, i: int) -> bool:
    return r == ord("%") and i < 3


def _accept_default_func(r: int, i: int) -> bool:
    return (i == 1 and r == ord(":")) or (i == 2 and chr(r) in "=-?+")


def _accept_replace_func(r: int, i: int) -> bool:
    return (i == 1 and r == ord("/")) or (i == 2 and chr(r) in "/#%")


def _accept_one_equal(r: int, i: int) -> bool:
    return i == 1 and r == ord("=")


def _accept_one_colon(r: int, i: int) -> bool:
    return i == 1 and r == ord(":")


def _reject_colon_close(r: int, i: int) -> bool:
    return r not in (ord(":"), ord("}"))


def _accept_slash(r: int, i: int) -> bool:
    return r == ord("/")


def _accept_not_slash(r: int, i: int) -> bool:
    return r != ord("/")


def _accept_casing_func(r: int, i: int) -> bool:
    return r in (ord(","), ord("^")) and i < 3


class _Scanner:
    """The lexer of `parse/scan.go`: one token at a time, under the mode and accept function set."""

    def __init__(self, text: bytes) -> None:
        self.buf = bytearray(text)
        self.pos = self.start = self.width = 0
        self.mode = 0
        self.escape_chars = 0
        self.accept: Accept = _accept_rune

    def read(self) -> int:
        if self.pos >= len(self.buf):
            self.width = 0
            return EOF
        r, self.width = decode_rune(self.buf, self.pos)
        self.pos += self.width
        return r

    def unread(self) -> None:
        self.pos -= self.width

    def skip(self) -> None:
        """Drop the escape character just read from the buffer (the escaped one becomes token text)."""
        del self.buf[self.pos - 1]

    def peek(self) -> int:
        r = self.read()
        self.unread()
        return r

    def text(self) -> bytes:
        return bytes(self.buf[self.start:self.pos])

    def scan(self) -> int:
        self.start = self.pos
        r = self.read()
        if r == EOF:
            return _EOF
        if self._lbrack(r):
            return _LBRACK
        if self._rbrack(r):
            return _RBRACK
        if self._ident(r):
            return _IDENT
        return _ILLEGAL

    def _ident(self, r: int) -> bool:
        if not self.mode & SCAN_IDENT:
            return False
        if self._escaped(r):
            self.skip()
        elif not self.accept(r, self.pos - self.start):
            return False
        while True:
            r = self.read()
            if r == EOF:
                self.unread()
                break
            if self._lbrack(r):
                self.unread()
                self.unread()
                break
            if self._escaped(r):
                self.skip()
                continue
            if not self.accept(r, self.pos - self.start):
                self.unread()
                break
        return True

    def _lbrack(self, r: int) -> bool:
        if not self.mode & SCAN_LBRACK:
            return False
        if r == ord("$"):
            if self.read() == ord("{"):
                return True
            self.unread()
        return False

    def _rbrack(self, r: int) -> bool:
        return bool(self.mode & SCAN_RBRACK) and r == ord("}")

    def _escaped(self, r: int) -> bool:
        if not self.mode & SCAN_ESCAPE:
            return False
        if r == ord("$") and self.escape_chars & _DOLLAR and self.peek() == ord("$"):
            return True
        if r == ord("\\") and self.escape_chars & _BACKSLASH:
            return self.peek() in (ord("/"), ord("\\"))
        return False


class _Parser:
    """The recursive descent of `parse/parse.go`."""

    def __init__(self, text: bytes) -> None:
        self.s = _Scanner(text)

    def parse_any(self) -> Node:
        """Text and expressions up to the end; Flux recurses once per token, this loops (same tree)."""
        s = self.s
        nodes: list[Node] = []
        while True:
            s.accept, s.mode, s.escape_chars = _accept_rune, SCAN_IDENT | SCAN_LBRACK | SCAN_ESCAPE, _DOLLAR
            token = s.scan()
            if token == _EOF:
                break
            if token not in (_IDENT, _LBRACK):
                raise ParseError(BAD_SUBSTITUTION)
            nodes.append(Text(s.text()) if token == _IDENT else self.parse_func())
        return nodes[0] if len(nodes) == 1 else Sequence(tuple(nodes)) if nodes else _EMPTY

    def parse_func(self) -> Node:
        s = self.s
        s.escape_chars = _ESCAPE_ALL
        if s.peek() == ord("#"):
            return self._length()
        s.accept, s.mode = _accept_ident, SCAN_IDENT
        if s.scan() != _IDENT:
            raise ParseError(PARSE_VARIABLE_NAME)
        name = s.text()
        nxt = s.peek()
        if nxt == ord(":"):
            return self._default_or_substr(name)
        if nxt == ord("="):
            return self._default(name)
        if nxt in (ord(","), ord("^")):
            return self._operator_only(name, _accept_casing_func)
        if nxt == ord("/"):
            return self._replace(name)
        if nxt == ord("#"):
            return self._remove(name, _accept_hash_func)
        if nxt == ord("%"):
            return self._remove(name, _accept_percent_func)
        s.accept, s.mode = _accept_ident, SCAN_RBRACK
        if s.scan() != _RBRACK:
            raise ParseError(MISSING_CLOSING_BRACE)
        return Func(name)

    def _param(self, accept: Accept, mode: int) -> Node:
        s = self.s
        s.accept, s.mode = accept, mode | SCAN_LBRACK
        token = s.scan()
        if token == _LBRACK:
            return self.parse_func()
        if token in (_IDENT, _RBRACK):
            return Text(s.text())
        raise ParseError(PARSE_FUNC_SUBSTITUTION)

    def _operator(self, accept: Accept, error: str = BAD_SUBSTITUTION) -> bytes:
        s = self.s
        s.accept, s.mode = accept, SCAN_IDENT
        if s.scan() != _IDENT:
            raise ParseError(error)
        return s.text()

    def _close(self) -> None:
        self.s.mode = SCAN_RBRACK
        if self.s.scan() != _RBRACK:
            raise ParseError(BAD_SUBSTITUTION)

    def _default_or_substr(self, name: bytes) -> Node:
        s = self.s
        s.read()
        r = s.peek()
        s.unread()  # by the width of the peeked rune, as in Flux
        return self._default(name) if r in tuple(map(ord, "=-?+")) else self._substr(name)

    def _substr(self, name: bytes) -> Node:
        op = self._operator(_accept_one_colon)
        args = [self._param(_reject_colon_close, SCAN_IDENT)]
        s = self.s
        s.accept, s.mode = _accept_colon, SCAN_IDENT | SCAN_RBRACK
        token = s.scan()
        if token == _RBRACK:
            return Func(name, op, tuple(args))
        if token != _IDENT:
            raise ParseError(BAD_SUBSTITUTION)
        args.append(self._param(_accept_not_closing, SCAN_IDENT))
        self._close()
        return Func(name, op, tuple(args))

    def _remove(self, name: bytes, accept: Accept) -> Node:
        op = self._operator(accept)
        arg = self._param(_accept_not_closing, SCAN_IDENT)
        self._close()
        return Func(name, op, (arg,))

    def _replace(self, name: bytes) -> Node:
        op = self._operator(_accept_replace_func)
        args = [self._param(_accept_not_slash, SCAN_IDENT | SCAN_ESCAPE)]
        self._operator(_accept_slash)
        if self.s.peek() != ord("}"):
            args.append(self._param(_accept_not_closing, SCAN_IDENT | SCAN_ESCAPE))
        self._close()
        return Func(name, op, tuple(args))

    def _default(self, name: bytes) -> Node:
        accept = _accept_one_equal if self.s.peek() == ord("=") else _accept_default_func
        op = self._operator(accept, PARSE_DEFAULT_FUNCTION)
        args: list[Node] = []
        while self.s.peek() != ord("}"):
            args.append(self._param(_accept_not_closing, SCAN_IDENT))
        self._close()
        return Func(name, op, tuple(args))

    def _operator_only(self, name: bytes, accept: Accept) -> Node:
        op = self._operator(accept)
        self._close()
        return Func(name, op)

    def _length(self) -> Node:
        op = self._operator(_accept_one_hash)
        s = self.s
        s.accept, s.mode = _accept_ident, SCAN_IDENT
        if s.scan() != _IDENT:
            raise ParseError(BAD_SUBSTITUTION)
        param = s.text()
        self._close()
        return Func(param, op)


def parse(text: bytes) -> Node:
    """The parse tree of a text; ParseError as Flux's parser fails."""
    return _Parser(text).parse_any()
