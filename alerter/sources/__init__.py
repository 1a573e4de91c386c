"""Source kinds. Adding one is a module implementing `DocumentKind` (one document per poll) or
`ApiKind` (an API asked several questions per poll) and a line in `KINDS`."""

from alerter.sources.base import SourceKind
from alerter.sources.committees import CommitteeInquiriesKind, CommitteePublicationsKind
from alerter.sources.feed import FeedKind
from alerter.sources.govuk import GovukKind
from alerter.sources.govuk_consultations import GovukConsultationsKind
from alerter.sources.hansard import HansardKind
from alerter.sources.html_page import HtmlKind
from alerter.sources.legislation import LegislationKind
from alerter.sources.written_questions import WrittenQuestionsKind, WrittenStatementsKind

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
