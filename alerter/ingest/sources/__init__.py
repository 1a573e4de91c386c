"""Source kinds. Adding one is a module implementing `DocumentKind` (one document per poll) or
`ApiKind` (an API asked several questions per poll) and a line in `KINDS`."""

from alerter.ingest.sources.base import SourceKind
from alerter.ingest.sources.committees import CommitteeInquiriesKind, CommitteePublicationsKind
from alerter.ingest.sources.feed import FeedKind
from alerter.ingest.sources.govuk import GovukKind
from alerter.ingest.sources.govuk_consultations import GovukConsultationsKind
from alerter.ingest.sources.hansard import HansardKind
from alerter.ingest.sources.html_page import HtmlKind
from alerter.ingest.sources.legislation import LegislationKind
from alerter.ingest.sources.written_questions import WrittenQuestionsKind, WrittenStatementsKind

KINDS: dict[str, SourceKind] = {
    "feed": FeedKind(),
    "html": HtmlKind(),
    "govuk": GovukKind(),
    "written_questions": WrittenQuestionsKind(),
    "written_statements": WrittenStatementsKind(),
    "committee_inquiries": CommitteeInquiriesKind(),
    "committee_papers": CommitteePublicationsKind(),
    "hansard": HansardKind(),
    "legislation": LegislationKind(),
    "govuk_consultations": GovukConsultationsKind(),
}
