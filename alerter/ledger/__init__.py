"""The delivery ledger, exactly once and nothing else: rows planned before anything is sent,
claimed, leased, batched and marked, with each email built by the use case that planned it;
it imports the ground floor and delivery's transports, never what an email says."""
