"""Members in and out as CSV: `email,name,organisation,topics,frequency`, topics separated by `;`.

A file is read as spreadsheets save it: UTF-8, Windows-1252 (a UK Excel's plain "CSV") or
UTF-16 with its byte-order mark ("Unicode Text"), separated by commas or tabs. Each line is one
row and no field runs over several lines, so a quote left open cannot swallow the rows after it.
Every row's outcome is reported with its line number: added, updated (saying what changed),
left as is (saying why), or refused (saying why; nothing from it is stored). Existing members
are changed only when the import is asked to update them."""

import codecs
import csv
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Session, col, select

from alerter.db import among
from alerter.progress import Progress
from subscriptions.members import (
    InvalidChoice,
    InvalidEmail,
    MemberChange,
    NewMember,
    check_choices,
    create_members,
    email_hash,
    normalise_email,
    topics_by_member,
    update_members,
)
from subscriptions.models import Frequency, Member, MemberStatus, MemberTopic

COLUMNS = ("email", "name", "organisation", "topics", "frequency")
# The longest value each column may hold (the member table's limits).
MAX_LENGTH = {"email": 320, "name": 200, "organisation": 200, "topics": 2000, "frequency": 20}
# A spreadsheet treats a cell starting with one of these as a formula. Export puts a `'` before
# them (the spreadsheets' own sign for "text"); import takes it off again.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_LOOKUP_CHUNK = 1000
# Unicode's control characters (category Cc), all of them.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")
_MEMBERS: sa.Table = Member.__table__  # type: ignore[attr-defined]


class Outcome(StrEnum):
    ADDED = "added"
    UPDATED = "updated"
    LEFT = "left as is"
    REFUSED = "refused"


@dataclass(frozen=True)
class RowResult:
    """What the import did with one row of the file."""

    line: int
    email: str  # the address as stored, or as written in a refused row
    outcome: Outcome
    detail: str = ""  # what changed, or why it was left or refused


@dataclass
class ImportReport:
    rows: list[RowResult] = field(default_factory=list)
    # Members added without confirmed consent: each needs a confirmation email.
    to_confirm: list[int] = field(default_factory=list)

    def count(self, outcome: Outcome) -> int:
        return sum(row.outcome == outcome for row in self.rows)

    @property
    def refused(self) -> list[RowResult]:
        return [row for row in self.rows if row.outcome == Outcome.REFUSED]

    def summary(self) -> str:
        """ "2 added, 1 updated, 3 left as is, 1 refused"."""
        return ", ".join(f"{self.count(outcome)} {outcome}" for outcome in Outcome)


class ImportFileError(ValueError):
    """The file as a whole cannot be read (not text, not CSV, wrong header)."""


def decode(data: bytes) -> str:
    """The file's text, in whichever of the encodings spreadsheets save it is used."""
    try:
        if data.startswith(codecs.BOM_UTF8):
            text = data[len(codecs.BOM_UTF8) :].decode("utf-8")
        elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            text = data.decode("utf-16")
        else:
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError:
                text = data.decode("cp1252")
    except UnicodeDecodeError:
        text = "\x00"
    if "\x00" in text:
        raise ImportFileError(
            "this is not a CSV file (it is not text in UTF-8, UTF-16 or Windows-1252); "
            "save the spreadsheet as CSV and import that"
        )
    return text


@dataclass(frozen=True)
class _Row:
    line: int
    email: str
    name: str
    organisation: str
    topics: list[str]
    frequency: Frequency


def import_members(
    session: Session,
    text: str,
    *,
    known_topics: Sequence[str],
    consent_confirmed: bool,
    update_existing: bool = False,
    imported_by: str,
    now: datetime,
    progress: Progress | None = None,
) -> ImportReport:
    """Import CSV text. With `consent_confirmed` (staff confirm they hold consent) new members
    are active at once and the consent log says so; otherwise they await confirmation. Members
    already known are left as they are unless `update_existing`. `progress` hears of each row."""
    report = ImportReport()
    rows = _read(text, known_topics, report)
    method = f"staff import by {imported_by}" + (
        " (consent confirmed by staff)" if consent_confirmed else ""
    )
    members = _members_by_email(session, [row.email for row in rows])
    erased = _erased(session, [row.email for row in rows if row.email not in members])
    new: list[NewMember] = []
    changes: list[MemberChange] = []
    for done, row in enumerate(rows, start=1):
        if progress is not None:
            progress(done, len(rows))
        member = members.get(row.email)
        if member is None and email_hash(row.email) in erased:
            result = RowResult(
                row.line,
                row.email,
                Outcome.REFUSED,
                "this address asked to be erased; it is not imported again",
            )
        elif member is None:
            new.append(NewMember(row.email, row.name, row.organisation, row.topics, row.frequency))
            result = RowResult(
                row.line,
                row.email,
                Outcome.ADDED,
                "active: consent confirmed by staff"
                if consent_confirmed
                else "awaiting confirmation: a confirmation email is sent",
            )
        elif member.status in (MemberStatus.UNSUBSCRIBED, MemberStatus.SUPPRESSED):
            result = RowResult(
                row.line,
                row.email,
                Outcome.LEFT,
                f"{member.status}: an import never subscribes them again",
            )
        elif not update_existing:
            result = RowResult(
                row.line,
                row.email,
                Outcome.LEFT,
                "already a member; their details are not changed unless the import is asked "
                "to update existing members",
            )
        else:
            result, change = _update(member, row)
            if change is not None:
                changes.append(change)
        report.rows.append(result)
    update_members(session, changes, action="import-update", method=method, now=now)
    added = create_members(
        session, new, active=consent_confirmed, action="import", method=method, now=now
    )
    if not consent_confirmed:
        report.to_confirm = [added[member.email] for member in new]
    report.rows.sort(key=lambda result: result.line)
    session.flush()
    return report


@dataclass(frozen=True)
class _Known:
    """A member the file names who is already in the table, as the import compares them."""

    id: int
    name: str
    organisation: str
    frequency: str
    status: str
    topics: list[str]


def _members_by_email(session: Session, emails: list[str]) -> dict[str, _Known]:
    """Plain columns rather than Member objects, which cost far more for a whole file."""
    table = _MEMBERS
    query = sa.select(
        table.c.id,
        table.c.email,
        table.c.name,
        table.c.organisation,
        table.c.frequency,
        table.c.status,
    )
    rows = [
        row
        for start in range(0, len(emails), _LOOKUP_CHUNK)
        for row in session.execute(
            query.where(among(session, table.c.email, emails[start : start + _LOOKUP_CHUNK]))
        )
    ]
    topics = topics_by_member(session, [row[0] for row in rows])
    return {
        email: _Known(member_id, name, organisation, frequency, status, topics.get(member_id, []))
        for member_id, email, name, organisation, frequency, status in rows
    }


def _erased(session: Session, emails: list[str]) -> set[str]:
    """The address hashes, among these addresses', of members who asked to be erased."""
    hashes = [email_hash(email) for email in emails]
    found: set[str] = set()
    for start in range(0, len(hashes), _LOOKUP_CHUNK):
        found.update(
            session.exec(
                select(Member.email_hash).where(
                    among(session, col(Member.email_hash), hashes[start : start + _LOOKUP_CHUNK]),
                    Member.status == MemberStatus.ERASED,
                )
            )
        )
    return found


def _update(member: _Known, row: _Row) -> tuple[RowResult, MemberChange | None]:
    """What the row changes, and the change to save (None when the row changes nothing)."""
    topics = member.topics
    changes = [
        f"{what}: {_shown(before)} → {_shown(after)}"
        for what, before, after in (
            ("name", member.name, row.name),
            ("organisation", member.organisation, row.organisation),
            ("topics", ", ".join(topics), ", ".join(row.topics)),
            ("frequency", member.frequency, str(row.frequency)),
        )
        if before != after
    ]
    if not changes:
        return RowResult(row.line, row.email, Outcome.LEFT, "already as the file says"), None
    change = MemberChange(
        member.id, row.name, row.organisation, row.frequency, row.topics, topics != row.topics
    )
    return RowResult(row.line, row.email, Outcome.UPDATED, "; ".join(changes)), change


def _shown(value: str) -> str:
    return f"“{value}”" if value else "(none)"


def _read(text: str, known_topics: Sequence[str], report: ImportReport) -> list[_Row]:
    """The rows fit to import; each one that is not goes in the report as refused."""
    lines = re.split(r"\r\n|\n|\r", text)
    if not lines[0].strip():
        raise ImportFileError("empty file; expected a header: " + ",".join(COLUMNS))
    delimiter = "\t" if "\t" in lines[0] and "," not in lines[0] else ","
    try:
        header = [cell.strip().lower() for cell in _cells(lines[0], delimiter)]
    except csv.Error as error:
        raise ImportFileError(f"not a CSV file ({error})") from None
    missing = [column for column in COLUMNS if column not in header]
    if missing:
        raise ImportFileError(
            f"the header lacks {', '.join(missing)}; expected: {','.join(COLUMNS)}"
        )
    rows: list[_Row] = []
    seen: dict[str, int] = {}
    for line, raw in enumerate(lines[1:], start=2):
        if not raw.strip(" " + delimiter):  # blank, or only the separators a spreadsheet left
            continue
        row = _row(line, raw, delimiter, header, known_topics)
        if isinstance(row, RowResult):
            report.rows.append(row)
        elif row.email in seen:
            reason = f"{row.email} already appears on line {seen[row.email]}"
            report.rows.append(RowResult(line, row.email, Outcome.REFUSED, reason))
        else:
            seen[row.email] = line
            rows.append(row)
    return rows


def _row(
    line: int, raw: str, delimiter: str, header: list[str], known_topics: Sequence[str]
) -> "_Row | RowResult":
    """One line of the file as a row to import, or the reason it is refused."""
    try:
        cells = _cells(raw, delimiter)
    except csv.Error as error:
        reason = (
            "a quote opens a field that does not close on this line (a field cannot run over "
            "several lines)"
            if "unexpected end of data" in str(error)
            else f"not readable as CSV ({error})"
        )
        written = raw.split(delimiter, 1)[0].strip().strip('"')
        return RowResult(line, written[:320], Outcome.REFUSED, reason)
    positions = {column: header.index(column) for column in COLUMNS}
    values = {c: _as_text(cells[i]) if i < len(cells) else "" for c, i in positions.items()}
    problem = _problem(cells, header, values)
    if problem is None:
        try:
            email = normalise_email(values["email"])
            topics, frequency = check_choices(
                [t.strip() for t in values["topics"].split(";") if t.strip()],
                values["frequency"] or Frequency.WEEKLY,
                known_topics,
            )
        except (InvalidEmail, InvalidChoice) as error:
            problem = str(error)
        else:
            return _Row(line, email, values["name"], values["organisation"], topics, frequency)
    return RowResult(line, values["email"][:320], Outcome.REFUSED, problem)


def _cells(line: str, delimiter: str) -> list[str]:
    if '"' not in line:  # nothing quoted: the csv module would split at each delimiter too
        return line.split(delimiter)
    return next(csv.reader([line], delimiter=delimiter, strict=True), [])


def _as_text(cell: str) -> str:
    """A cell's value: spaces trimmed, and the `'` export puts before a formula-like value gone."""
    if cell.startswith("'") and cell[1:2] in FORMULA_STARTS:
        cell = cell[1:]
    return cell.strip()


def _problem(cells: list[str], header: list[str], values: dict[str, str]) -> str | None:
    """Why a row's cells cannot be imported, or None."""
    if len(cells) != len(header):
        return f"{len(cells)} columns where the header has {len(header)}"
    for column, value in values.items():
        if len(value) > MAX_LENGTH[column]:
            return f"the {column} is {len(value):,} characters long; at most {MAX_LENGTH[column]}"
        if _CONTROL.search(value):
            return f"the {column} contains a control character"
    return None


def export_members(session: Session) -> str:
    """Every member who has not been erased, in the import format, each cell safe to open in a
    spreadsheet (none is taken for a formula)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    # Status after the import format's columns: import ignores a column it does not know.
    writer.writerow((*COLUMNS, "status"))
    table = _MEMBERS
    members = session.execute(
        sa.select(
            table.c.id,
            table.c.email,
            table.c.name,
            table.c.organisation,
            table.c.frequency,
            table.c.status,
        )
        .where(table.c.status != MemberStatus.ERASED)
        .order_by(table.c.email)
    ).all()
    topics: dict[int, list[str]] = {}
    # Every such member's topics in one query, in the order each member's were saved.
    for member_id, topic_id in session.exec(
        select(MemberTopic.member_id, MemberTopic.topic_id)
        .join(Member, col(Member.id) == MemberTopic.member_id)
        .where(Member.status != MemberStatus.ERASED)
        .order_by(col(MemberTopic.id))
    ):
        topics.setdefault(member_id, []).append(topic_id)
    writer.writerows(
        [
            _neutralised(cell)
            for cell in (
                email or "",
                name,
                organisation,
                ";".join(topics.get(member_id or 0, ())),
                frequency,
                status,
            )
        ]
        for member_id, email, name, organisation, frequency, status in members
    )
    return out.getvalue()


def export_file(session: Session) -> bytes:
    """The export as a file for a spreadsheet: UTF-8 after a byte-order mark, without which
    Excel reads it as Windows-1252 and shows "RenÃ©" and "Â£" (import reads it either way)."""
    return codecs.BOM_UTF8 + export_members(session).encode("utf-8")


def _neutralised(cell: str) -> str:
    return f"'{cell}" if cell.startswith(FORMULA_STARTS) else cell
