"""Select committee business from UK Parliament's committees API: inquiries accepting written
evidence, with their closing dates (`/api/CommitteeBusiness`), and new committee publications
(`/api/Publications`): reports, correspondence, government responses."""

from dataclasses import replace
from datetime import timedelta
from typing import Any, ClassVar

from pydantic import BaseModel, Field

from alerter.ingest.clean import InvalidURL, canonical_url, clean_text
from alerter.ingest.sources.apis import (
    OffsetPaging,
    api_datetime,
    capped_warning,
    drop_unchanged,
    fingerprint,
    object_of,
    read_pages,
    text_of,
    uk_date,
)
from alerter.ingest.sources.base import (
    ApiClient,
    ApiOptions,
    Entry,
    ParseResult,
    Record,
    SourceError,
    SourceSpec,
    Window,
)

API_NAME = "committees API"
WEBSITE = "https://committees.parliament.uk"
_PAGING = OffsetPaging(skip="Skip", take="Take", total="totalResults", results="items", size=50)
BUSINESS_PREFIX = "committees:business:"
PUBLICATION_PREFIX = "committees:publication:"
# Publications are filtered by day: read the day before the last poll again.
_OVERLAP = timedelta(days=1)
# At most this many inquiries are read in full (their scope) in one poll; the rest wait.
MAX_DETAILS = 100


class CommitteeOptions(ApiOptions):
    # The API matches a term against the business's (or publication's) title only.
    search_terms: list[str] = Field(default_factory=list)
    # The API's committee ids (CommitteeId); each is one query.
    committees: list[int] = Field(default_factory=list)


class PublicationOptions(CommitteeOptions):
    # Report, Correspondence, Government Response... as the API numbers them; ORed.
    publication_types: list[int] = Field(default_factory=list)


def _queries(options: CommitteeOptions) -> list[list[tuple[str, str]]]:
    """One parameter list per term and committee (a single unfiltered one without either)."""
    terms: list[str | None] = [*options.search_terms] or [None]
    committees: list[int | None] = [*options.committees] or [None]
    queries = []
    for term in terms:
        for committee in committees:
            params = []
            if term:
                params.append(("SearchTerm", term.strip()))
            if committee is not None:
                params.append(("CommitteeId", str(committee)))
            queries.append(params)
    return queries


async def _read_all(
    client: ApiClient, url: str, options: CommitteeOptions, fixed: list[tuple[str, str]]
) -> tuple[list[dict[str, Any]], ParseResult]:
    """Every record the queries find, once each, and a result holding the warnings and how
    many results were not records."""
    found: dict[int, dict[str, Any]] = {}
    result = ParseResult()
    for params in _queries(options):
        pages = await read_pages(client, url, [*fixed, *params], _PAGING, api_name=API_NAME)
        if not pages.complete:
            result.warnings.append(capped_warning(_describe(params), len(pages.results)))
        for raw in pages.results:
            if isinstance(raw, dict) and isinstance(raw.get("id"), int):
                found.setdefault(raw["id"], raw)
            else:
                result.skipped += 1
    return list(found.values()), result


def _describe(params: list[tuple[str, str]]) -> str:
    return ", ".join(f"{name} {value}" for name, value in params) or "all"


class CommitteeInquiriesKind:
    """Inquiries (and other business) currently accepting written evidence. All of them are
    read at every poll, so a moved deadline is seen; an inquiry's scope is read by its id when
    it is new or its record changed."""

    options_model: ClassVar[type[BaseModel]] = CommitteeOptions
    request_interval: ClassVar[float] = 0.1

    async def collect(self, spec: SourceSpec, client: ApiClient, window: Window) -> ParseResult:
        options = CommitteeOptions.model_validate(spec.options)
        url = str(spec.url)
        found, result = await _read_all(
            client, url, options, [("CurrentlyAcceptingEvidence", "true")]
        )
        listed: dict[str, Entry] = {}
        for business in found:
            entry = inquiry_entry(business, scope="")
            if entry is None:
                result.skipped += 1
            else:
                listed[entry.identity] = entry
        to_read = [entry.identity for entry in drop_unchanged(client, list(listed.values()))]
        # Inquiries read in part before, which may have left the list since (closed).
        to_read += [
            external_id
            for external_id in client.records_to_reread(BUSINESS_PREFIX, MAX_DETAILS)
            if external_id not in listed
        ]
        unread = 0
        for number, external_id in enumerate(to_read):
            full = await _read_inquiry(client, url, external_id) if number < MAX_DETAILS else None
            short = listed.get(external_id)
            if full is not None:
                result.entries.append(full)
                continue
            unread += 1
            if short is not None and short.record is not None:
                # Without a revision, the next poll reads it again.
                result.entries.append(replace(short, record=replace(short.record, revision=None)))
        if unread:
            result.warnings.append(
                f"scope not read for {unread} inquiry(ies); kept without it and read again at "
                "the next poll"
            )
        return result.finish()


async def _read_inquiry(client: ApiClient, url: str, external_id: str) -> Entry | None:
    """The entry for one inquiry read by its id (its details, with the scope), or None."""
    try:
        details = await client.get_json(f"{url}/{external_id.removeprefix(BUSINESS_PREFIX)}")
    except SourceError:
        return None
    if not isinstance(details, dict) or not isinstance(details.get("id"), int):
        return None
    return inquiry_entry(details, scope=text_of(details.get("scope")))


def inquiry_entry(business: dict[str, Any], *, scope: str) -> Entry | None:
    """An entry for one piece of committee business: a CommitteeBusinessSummary from the list
    (no scope), or its details with the scope (HTML) as the summary."""
    title = clean_text(text_of(business.get("title")))
    if not title:
        return None
    business_id = business["id"]
    periods = [p for p in business.get("openSubmissionPeriods") or [] if isinstance(p, dict)]
    written = [p for p in periods if p.get("submissionType") == "WrittenEvidence"]
    opens = [d for p in written if (d := api_datetime(p.get("startDate")))]
    closes = [d for p in written if (d := api_datetime(p.get("endDate")))]
    if written:
        status = "accepting_evidence"
    elif api_datetime(business.get("closeDate")):
        status = "closed"
    else:
        status = "open"
    business_type = object_of(business.get("type"))
    metadata: dict[str, Any] = {
        "business_type": text_of(business_type.get("name")),
        "submission_periods": [_period(p) for p in periods],
    }
    if written and isinstance(written[0].get("id"), int):
        metadata["how_to_respond"] = {"url": f"{WEBSITE}/call-for-evidence/{written[0]['id']}"}
    if email := text_of(object_of(business.get("contact")).get("email")):
        metadata["contact_email"] = email
    report = business.get("latestReport")
    if isinstance(report, dict) and isinstance(report.get("id"), int):
        metadata["latest_report"] = {
            "external_id": f"{PUBLICATION_PREFIX}{report['id']}",
            "title": clean_text(text_of(report.get("description"))),
        }
    external_id = f"{BUSINESS_PREFIX}{business_id}"
    revision = fingerprint(
        business.get("title"),
        business.get("closeDate"),
        [(p.get("id"), p.get("startDate"), p.get("endDate")) for p in periods],
        metadata.get("latest_report"),
    )
    return Entry(
        identity=external_id,
        url=f"{WEBSITE}/work/{business_id}/",
        title=title,
        summary=clean_text(scope),
        published=api_datetime(business.get("openDate")),
        metadata={key: value for key, value in metadata.items() if value not in ("", [])},
        record=Record(
            external_id=external_id,
            revision=revision,
            document_type="committee_inquiry",
            status=status,
            opens_at=min(opens) if opens else None,
            closes_at=min(closes) if closes else None,
        ),
    )


def _period(period: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": period.get("id"),
        "type": text_of(period.get("submissionType")),
        "starts": text_of(period.get("startDate")),
        "ends": text_of(period.get("endDate")),
    }


class CommitteePublicationsKind:
    """Committee publications since the last poll, newest first."""

    options_model: ClassVar[type[BaseModel]] = PublicationOptions
    request_interval: ClassVar[float] = 0.1

    async def collect(self, spec: SourceSpec, client: ApiClient, window: Window) -> ParseResult:
        options = PublicationOptions.model_validate(spec.options)
        since = window.since(overlap=_OVERLAP, backlog=timedelta(options.backlog_days))
        fixed = [("StartDate", uk_date(since)), ("SortOrder", "PublicationDateDescending")]
        fixed += [("PublicationTypeIds", str(t)) for t in options.publication_types]
        found, result = await _read_all(client, str(spec.url), options, fixed)
        for publication in found:
            entry = publication_entry(publication)
            if entry is None:
                result.skipped += 1
            else:
                result.entries.append(entry)
        return result.finish()


def publication_entry(publication: dict[str, Any]) -> Entry | None:
    """An entry for one publication: its first document's page, its committee, and the
    inquiries it belongs to (their external ids join it to them)."""
    title = clean_text(text_of(publication.get("description")))
    url = _publication_url(publication)
    if not title or url is None:
        return None
    kind = object_of(publication.get("type"))
    committee = object_of(publication.get("committee"))
    committee_name = text_of(committee.get("name"))
    department = object_of(publication.get("respondingDepartment"))
    inquiries = [
        {"external_id": f"{BUSINESS_PREFIX}{b['id']}", "title": clean_text(text_of(b.get("title")))}
        for b in publication.get("businesses") or []
        if isinstance(b, dict) and isinstance(b.get("id"), int)
    ]
    summary = text_of(kind.get("name")) or "Publication"
    if committee_name:
        summary += f" from the {committee_name}"
    if inquiries:
        summary += ", " + "; ".join(inquiry["title"] for inquiry in inquiries)
    metadata: dict[str, Any] = {
        "publication_type": text_of(kind.get("name")),
        "committee": committee_name,
        "committee_id": committee.get("id"),
        "inquiries": inquiries,
        "responding_department": text_of(department.get("name")),
    }
    if isinstance(publication.get("responseToPublicationId"), int):
        metadata["response_to"] = f"{PUBLICATION_PREFIX}{publication['responseToPublicationId']}"
    external_id = f"{PUBLICATION_PREFIX}{publication['id']}"
    return Entry(
        identity=external_id,
        url=url,
        title=title,
        summary=summary + ".",
        published=api_datetime(publication.get("publicationStartDate")),
        metadata={k: v for k, v in metadata.items() if v not in ("", [], None)},
        record=Record(
            external_id=external_id,
            revision=fingerprint(
                publication.get("description"),
                publication.get("publicationStartDate"),
                url,
                kind.get("id"),
            ),
            document_type="committee_publication",
        ),
    )


def _publication_url(publication: dict[str, Any]) -> str | None:
    """The first document's page; else the publication's own link elsewhere, if any."""
    for document in publication.get("documents") or []:
        if isinstance(document, dict) and isinstance(document.get("documentId"), int):
            return (
                f"{WEBSITE}/publications/{publication['id']}/documents/"
                f"{document['documentId']}/default/"
            )
    extra = publication.get("additionalContentUrl")
    if isinstance(extra, str):
        try:
            return canonical_url(extra)
        except InvalidURL:
            return None
    return None
