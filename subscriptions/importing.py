"""Members in and out as CSV: `email,name,organisation,topics,frequency`, topics separated by `;`.

Importing is idempotent (a known address is updated, never duplicated). Each bad row is reported
with its line number and reason and nothing from it is stored; the good rows go in."""

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlmodel import Session, col, select

from alerter.progress import Progress
from subscriptions.members import (
    InvalidChoice,
    InvalidEmail,
    check_choices,
    choices_detail,
    create_member,
    find_member,
    is_erased,
    log_consent,
    normalise_email,
    set_topics,
    topics_of,
)
from subscriptions.models import Frequency, Member, MemberStatus

COLUMNS = ("email", "name", "organisation", "topics", "frequency")


@dataclass(frozen=True)
class RowProblem:
    line: int
    reason: str


@dataclass
class ImportReport:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    problems: list[RowProblem] = field(default_factory=list)
    # Members added without confirmed consent: each needs a confirmation email.
    to_confirm: list[int] = field(default_factory=list)
    # Addresses left as they are because the member unsubscribed or is suppressed.
    kept_opted_out: list[str] = field(default_factory=list)


class ImportFileError(ValueError):
    """The file as a whole cannot be read (not CSV, wrong header)."""


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
    imported_by: str,
    now: datetime,
    progress: Progress | None = None,
) -> ImportReport:
    """Import CSV text. With `consent_confirmed` (staff confirm they hold consent) new members
    are active at once and the consent log says so; otherwise they await confirmation.
    `progress` hears of each row read."""
    report = ImportReport()
    rows = _read(text, known_topics, report)
    method = f"staff import by {imported_by}" + (
        " (consent confirmed by staff)" if consent_confirmed else ""
    )
    for done, row in enumerate(rows, start=1):
        if progress is not None:
            progress(done, len(rows))
        member = find_member(session, row.email)
        if member is None and is_erased(session, row.email):
            report.problems.append(
                RowProblem(row.line, "this address asked to be erased; it is not imported again")
            )
            continue
        if member is None:
            _add(session, row, consent_confirmed, method, now, report)
        elif member.status in (MemberStatus.UNSUBSCRIBED, MemberStatus.SUPPRESSED):
            report.kept_opted_out.append(row.email)
        else:
            _update(session, member, row, method, now, report)
    session.flush()
    return report


def _add(
    session: Session,
    row: _Row,
    consent_confirmed: bool,
    method: str,
    now: datetime,
    report: ImportReport,
) -> None:
    member = create_member(
        session,
        row.email,
        name=row.name,
        organisation=row.organisation,
        topics=row.topics,
        frequency=row.frequency,
        active=consent_confirmed,
        action="import",
        method=method,
        now=now,
    )
    assert member.id is not None
    report.added += 1
    if not consent_confirmed:
        report.to_confirm.append(member.id)


def _update(
    session: Session, member: Member, row: _Row, method: str, now: datetime, report: ImportReport
) -> None:
    assert member.id is not None
    before = (member.name, member.organisation, member.frequency, topics_of(session, member.id))
    after = (row.name, row.organisation, str(row.frequency), row.topics)
    if before == after:
        report.unchanged += 1
        return
    member.name, member.organisation, member.frequency = row.name, row.organisation, row.frequency
    set_topics(session, member, row.topics)
    log_consent(
        session, member, "import-update", method, now, choices_detail(row.topics, row.frequency)
    )
    report.updated += 1


def _read(text: str, known_topics: Sequence[str], report: ImportReport) -> list[_Row]:
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    try:
        header = [cell.strip().lower() for cell in next(reader)]
    except StopIteration:
        raise ImportFileError("empty file; expected a header: " + ",".join(COLUMNS)) from None
    except csv.Error as error:
        raise ImportFileError(f"not a CSV file ({error})") from None
    missing = [column for column in COLUMNS if column not in header]
    if missing:
        raise ImportFileError(
            f"the header lacks {', '.join(missing)}; expected: {','.join(COLUMNS)}"
        )
    position = {column: header.index(column) for column in COLUMNS}
    rows: list[_Row] = []
    seen: dict[str, int] = {}
    try:
        for cells in reader:
            line = reader.line_num
            if not any(cell.strip() for cell in cells):
                continue
            values = {c: cells[i].strip() if i < len(cells) else "" for c, i in position.items()}
            try:
                email = normalise_email(values["email"])
                topics, frequency = check_choices(
                    [t.strip() for t in values["topics"].split(";") if t.strip()],
                    values["frequency"] or Frequency.WEEKLY,
                    known_topics,
                )
            except (InvalidEmail, InvalidChoice) as error:
                report.problems.append(RowProblem(line, str(error)))
                continue
            if email in seen:
                report.problems.append(
                    RowProblem(line, f"{email} already appears on line {seen[email]}")
                )
                continue
            seen[email] = line
            rows.append(
                _Row(line, email, values["name"], values["organisation"], topics, frequency)
            )
    except csv.Error as error:
        report.problems.append(RowProblem(reader.line_num, f"unreadable CSV ({error})"))
    return rows


def export_members(session: Session) -> str:
    """Every member who has not been erased, in the import format."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    members = session.exec(
        select(Member).where(Member.status != MemberStatus.ERASED).order_by(col(Member.email))
    )
    for member in members:
        assert member.id is not None
        writer.writerow(
            [
                member.email,
                member.name,
                member.organisation,
                ";".join(topics_of(session, member.id)),
                member.frequency,
            ]
        )
    return out.getvalue()
