"""Reading a message's headers as the bytes a mail client gets, without a parser that would
decode them: what Gmail and Outlook see is what these tests see."""

import re
from email.header import decode_header

# RFC 5322: at most 998 characters a line, CRLF aside.
MAX_LINE = 998
# RFC 2047: an encoded word is at most 75 characters.
_ENCODED_WORD = re.compile(rb"=\?[^?\s]+\?[bBqQ]\?[^?\s]*\?=")


def header_section(message: bytes) -> bytes:
    head, separator, _ = message.partition(b"\r\n\r\n")
    assert separator, "no CRLF CRLF between the headers and the body"
    return head + b"\r\n"


def raw_headers(message: bytes) -> dict[bytes, bytes]:
    """Each top-level header's raw value, folding kept (continuation lines joined by CRLF),
    after checking the whole message's lines: CRLF only, none over 998 characters, headers
    in ASCII, every encoded word well formed."""
    assert_lines_well_formed(message)
    head = header_section(message)
    assert head.isascii(), "a header carries raw non-ASCII bytes"
    headers: dict[bytes, bytes] = {}
    name = b""
    for line in head.split(b"\r\n")[:-1]:
        if line[:1] in (b" ", b"\t"):
            headers[name] += b"\r\n" + line
            continue
        name, colon, value = line.partition(b":")
        assert colon and re.fullmatch(rb"[!-9;-~]+", name), f"not a header line: {line!r}"
        assert name.lower() not in {n.lower() for n in headers}, f"{name!r} twice"
        headers[name] = value.removeprefix(b" ")
    for value in headers.values():
        for word in _ENCODED_WORD.findall(value):
            assert len(word) <= 75, f"encoded word over 75 characters: {word!r}"
    return headers


def assert_lines_well_formed(message: bytes) -> None:
    lines = message.split(b"\r\n")
    for line in lines:
        assert b"\n" not in line and b"\r" not in line, f"a bare LF or CR in {line[:80]!r}"
        assert len(line) <= MAX_LINE, f"a line of {len(line)} characters: {line[:80]!r}"


def unfolded(value: bytes) -> bytes:
    """Folded lines joined again: each CRLF before a space or tab removed (RFC 5322)."""
    return re.sub(rb"\r\n(?=[ \t])", b"", value)


def decoded(value: bytes) -> str:
    """An unstructured header's text, its encoded words decoded (as a mail client shows it)."""
    parts = decode_header(unfolded(value).decode("ascii"))
    return "".join(
        text.decode(charset or "ascii") if isinstance(text, bytes) else text
        for text, charset in parts
    )
