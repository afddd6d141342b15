"""Tables. Times are ISO 8601 text with an offset (UTC for our own clocks), which
sorts correctly and reads the same on SQLite and PostgreSQL."""

from sqlalchemy import DDL, Boolean, Column, Index, Integer, MetaData, String, Table, Text, event

SCHEMA_VERSION = 16  # store.migrations takes an older database here

metadata = MetaData()

schema_version = Table("schema_version", metadata, Column("version", Integer, nullable=False))

#: the condition of the files with problems, as the partial index holds it (new or migrated)
HAS_PROBLEMS = "problems != '[]'"
#: that index, made with the `files` table (below) or by store.migrations' step 14
PROBLEMS_INDEX = f"CREATE INDEX files_problems ON files (path) WHERE {HAS_PROBLEMS}"

# Every content file seen; `signature` is size:mtime (plus the sidecar's), `sha256` the bytes.
files = Table(
    "files",
    metadata,
    Column("path", String(1024), primary_key=True),
    Column("signature", String(200), nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("first_seen", String(40), nullable=False),
    Column("changed_at", String(40), nullable=False),
    Column("problems", Text, nullable=False, default="[]"),  # JSON [[reason, severity], ...]
)
# `Store.problems` runs in every scan (on a pick-up's path): a partial index of the few
# files with problems answers it without reading every row (63 ms at 100,000 files). Made
# with the table in SQL both databases read alike, not as an Index with `sqlite_where` and
# `postgresql_where`: naming a dialect's option imports that dialect, and PostgreSQL's
# took ~17 ms of every command's start on SQLite too (a cold run's twice: in its parent
# and in its forkserver, both before the first file is parsed).
event.listen(files, "after_create", DDL(PROBLEMS_INDEX))

# A post as published: identity, times and the content of its chosen version.
posts = Table(
    "posts",
    metadata,
    Column("id", String(200), primary_key=True),
    Column("key", String(600), nullable=False, unique=True),
    Column("title", Text, nullable=False),
    Column("date", String(40), nullable=False),
    Column("date_source", String(20), nullable=False),
    Column("picked_up", String(40), nullable=False, index=True),
    Column("updated", String(40), nullable=False),
    Column("withdrawn", Boolean, nullable=False, default=False),
    Column("fingerprint", String(64), nullable=False),
    Column("body_html", Text, nullable=False),
    Column("summary", Text, nullable=False),
    Column("tags", Text, nullable=False),  # JSON list
    Column("author", Text),
    Column("author_role", Text),
    Column("source", Text),
    Column("source_url", Text),
    Column("credit", Text),
    # the curator's comment on the post, sanitized HTML ("" for none)
    Column("comment", Text, nullable=False, default="", server_default=""),
    Column("image", Text),  # JSON of core.model.LeadImage; NULL: none
    Column("republish", String(10)),  # core.model.Republish; NULL: the source's or site's
    # the store's change number of the last write to this row or to its versions (set by
    # triggers: `store.changes`), so a process that keeps heads between builds asks for
    # what changed since, not for every post (`Store.changes_since`)
    Column("changed", Integer, nullable=False, default=0, server_default="0"),
    # what a build (Store.versions) and a scan (IntakeSession) ask of every post, read
    # from the index alone: a row with its text spans pages, and a scan of the table
    # reads every body
    Index("posts_versions", "withdrawn", "id", "fingerprint", "picked_up", "updated", "key"),
    Index("posts_changed", "changed"),
)

# Which file holds which post, and what that file says of it (a JSON ParsedPost).
versions = Table(
    "versions",
    metadata,
    Column("path", String(1024), primary_key=True),
    Column("slot", Integer, primary_key=True),
    Column("post_id", String(200), nullable=False),
    Column("key", String(600), nullable=False),
    Column("data", Text, nullable=False),
    # each post's files and what a scan asks of them, without the data; the only index
    # by post id (schema 16 dropped one of the post id alone, which this one's first
    # column answers as well: one index fewer written for each version)
    Index("versions_files", "post_id", "path", "slot", "key"),
)

# People who receive the digest. `address` is normalised (email-validator), so one
# person is one row however they typed it.
subscribers = Table(
    "subscribers",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("address", String(320), nullable=False),
    # mail systems treat local parts case-blind, so one person is one row
    Column("address_key", String(320), nullable=False, unique=True),
    Column("name", Text, nullable=False, default=""),
    # pending, active, unsubscribed, bounced, complained
    Column("status", String(20), nullable=False),
    Column("created_at", String(40), nullable=False),
    Column("updated_at", String(40), nullable=False),
    # what they chose (core.selection): topic slugs and source keys as canonical JSON
    # lists, both "[]" for the whole site; equal text for equal choices, so readers who
    # chose alike are grouped (and their issue rendered once) by these columns
    Column("topics", Text, nullable=False, default="[]", server_default="[]"),
    Column("sources", Text, nullable=False, default="[]", server_default="[]"),
    # core.model.Cadence, or "" for the site's `digest.cadence`
    Column("cadence", String(10), nullable=False, default="", server_default=""),
    # no digest at a slot before this (ISO time; "" for none): the paused weeks are skipped
    Column("paused_until", String(40), nullable=False, default="", server_default=""),
    # the last issue whose posts have been theirs to get (queued, or passed over while
    # paused or off): their next digest holds the posts of later issues only, so each post
    # reaches a person at most once whatever they change (emails.editions)
    Column("served", Integer, nullable=False, default=0, server_default="0"),
)

# When and how each person joined, confirmed and changed anything: the consent record
# (store.consent). Erasing someone deletes theirs.
consent_log = Table(
    "consent_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("address_key", String(320), nullable=False, index=True),
    Column("at", String(40), nullable=False),
    Column("event", String(20), nullable=False),  # store.consent.Event
    Column("detail", Text, nullable=False, default="{}"),  # JSON: how, file, wording hash, ...
)

# Small values the store keeps for itself, by name: the salt of erased addresses' hashes.
store_values = Table(
    "store_values",
    metadata,
    Column("name", String(40), primary_key=True),
    Column("value", Text, nullable=False),
)

# Digest issues: numbered, frozen once made (the rendered parts are kept).
digest_issues = Table(
    "digest_issues",
    metadata,
    Column("number", Integer, primary_key=True, autoincrement=False),
    Column("cutoff", String(40), nullable=False),
    Column("created_at", String(40), nullable=False),
    Column("subject", Text, nullable=False),
    Column("html", Text, nullable=False),
    Column("text", Text, nullable=False),
    # set once its archive page is written: no sender (a worker elsewhere, say) may mail
    # a "view in browser" link before the page exists
    Column("released_at", String(40), nullable=False, default=""),
    # the curator's intro (content/_digest/next.md) as frozen with the issue, sanitized HTML,
    # and the sha256 of the file it came from: the same file never introduces two issues
    Column("intro_html", Text, nullable=False, default="", server_default=""),
    Column("intro_sha256", String(64), nullable=False, default="", server_default=""),
    # "issued" (queued for its subscribers), "proof" (frozen when the curator's proof was
    # made, waiting for its slot) or "held" (the curator held it): only "issued" is mailed
    # or archived (emails.proof)
    Column("proof_stage", String(12), nullable=False, server_default="issued"),
    Column("proof_sent_at", String(40), nullable=False, server_default=""),  # its proof went out
)

# One issue as rendered for readers who chose less than everything, or whose last digest
# was before the issue before it (monthly readers): the posts of issues after theirs
# that match their selection. Edition 0 is the issue's own parts (digest_issues), never
# a row here. Frozen once made, like the issue.
digest_editions = Table(
    "digest_editions",
    metadata,
    Column("issue", Integer, primary_key=True, autoincrement=False),
    Column("edition", Integer, primary_key=True, autoincrement=False),
    Column("subject", Text, nullable=False),
    Column("html", Text, nullable=False),
    Column("text", Text, nullable=False),
    Column("post_ids", Text, nullable=False),  # JSON list, in the order shown
)

# Membership, not timestamps: a post is in at most one issue, ever.
digest_posts = Table(
    "digest_posts",
    metadata,
    Column("issue", Integer, nullable=False, index=True),
    Column("post_id", String(200), nullable=False, unique=True),
    Column("position", Integer, nullable=False),
    # the post's republishing rule when the issue was frozen (core.model.Republish); NULL
    # in issues made before version 10: taken as `full`, the widest. The issue's public
    # page is made again from the posts as they are now when one's rule is narrower now
    # (emails.archive_pages)
    Column("republish", String(10), nullable=True),
)

# The delivery ledger: one row per (issue, subscriber), made when the issue is made.
# pending -> sending (committed before SMTP DATA) -> sent | deferred | failed;
# skipped when the subscriber left before their turn. A sender claims rows in batches
# with a lease (`lease_until`); a row still "sending" once its lease has lapsed (or its
# sender is a dead process on this host) was in flight: it is sent again, with the same
# Message-ID.
outbox = Table(
    "outbox",
    metadata,
    Column("issue", Integer, primary_key=True, autoincrement=False),
    Column("subscriber_id", Integer, primary_key=True, autoincrement=False),
    Column("address", String(320), nullable=False),  # as queued; sent only if still theirs
    Column("state", String(12), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("not_before", String(40), nullable=False, default=""),  # deferred until
    Column("claimed_by", String(200), nullable=False, default=""),  # host:pid of the sender
    Column("lease_until", String(40), nullable=False, default=""),  # while "sending"
    Column("code", Integer),  # the server's last reply code
    Column("reply", Text, nullable=False, default=""),
    Column("updated_at", String(40), nullable=False),
    # which rendering of the issue this person gets: 0 the issue's own, else a row of
    # digest_editions
    Column("edition", Integer, nullable=False, default=0, server_default="0"),
    Index("outbox_work", "issue", "state", "subscriber_id"),
    Index("outbox_waiting", "state", "issue"),  # what is left to send, past a year of sent rows
)

# Who holds a role (the sender of a site's digests): one row per role, with a
# holder "host:pid" and an expiry, renewed while the holder lives.
leases = Table(
    "leases",
    metadata,
    Column("name", String(100), primary_key=True),
    Column("holder", String(200), nullable=False),
    Column("expires", String(40), nullable=False),
)

# One row per digest slot (e.g. each Monday 07:00) once it has been decided: an
# issue made, nothing new, or skipped (too late, or before the site began).
# The slot is the key, so two processes can never both make that week's issue.
digest_slots = Table(
    "digest_slots",
    metadata,
    Column("slot", String(40), primary_key=True),
    # issued, empty, late, before-start; with proofs also proof (an issue frozen for the
    # curator before the slot), held and skipped (the curator's answers to the proof)
    Column("outcome", String(20), nullable=False),
    Column("issue", Integer),
    Column("decided_at", String(40), nullable=False),
    # when the curator was told of a slot that passed with no issue
    Column("proof_notice_at", String(40), nullable=False, server_default=""),
)

# The last run of each of the service's jobs ("scan", "build"), for `postroom status`.
activity = Table(
    "activity",
    metadata,
    Column("name", String(40), primary_key=True),
    Column("at", String(40), nullable=False),
    Column("data", Text, nullable=False),  # JSON: what it did (counts)
)

# Who has been sent the welcome email, by address: at most one each, however often the
# confirm button is pressed (and an id that SQLite gives again after a removal cannot
# stand for someone else). Claimed before the send, released if the send fails.
welcomes = Table(
    "welcomes",
    metadata,
    Column("address_key", String(320), primary_key=True),
    Column("sent_at", String(40), nullable=False),
)

# Reports that came back after a message was accepted (RFC 3464 delivery status
# notifications, RFC 5965 complaints), each matched to the (issue, subscriber) it is
# about. `report_key` is the report's own identity (its Message-ID, or a hash of its
# bytes), so reading a mailbox twice records nothing twice.
bounce_reports = Table(
    "bounce_reports",
    metadata,
    Column("report_key", String(200), primary_key=True),
    Column("issue", Integer, nullable=False),
    Column("subscriber_id", Integer, nullable=False),
    Column("kind", String(12), nullable=False),  # hard, soft, complaint
    Column("status", String(20), nullable=False, default=""),  # the DSN's 5.1.1, or ""
    Column("detail", Text, nullable=False, default=""),
    Column("received_at", String(40), nullable=False),
    Index("bounce_reports_issue", "issue", "kind"),
)

# Addresses never to be added again (they bounced hard or complained), kept by the
# subscribers' address_key even after the subscriber's row is removed.
bounce_suppressed = Table(
    "bounce_suppressed",
    metadata,
    Column("address_key", String(320), primary_key=True),
    # the address key, or for an erased person "erased:" and a salted hash of it
    # (store.consent): an old import cannot bring them back, and nothing shows who they were
    Column("reason", String(20), nullable=False),  # bounced, complained, erased
    Column("since", String(40), nullable=False),
)

# Sending held because an issue's hard bounces or complaints passed their limit
# (mail.pause_bounce_rate, mail.pause_complaint_rate): one row per issue that tripped it,
# `resumed_at` set by `postroom digest resume`. While a row has none, nothing is sent.
bounce_pauses = Table(
    "bounce_pauses",
    metadata,
    Column("issue", Integer, primary_key=True, autoincrement=False),
    Column("reason", Text, nullable=False),
    Column("paused_at", String(40), nullable=False),
    Column("resumed_at", String(40), nullable=False, default=""),
)

# What postroom fetches on its own for the curator (store.fetched): each followed feed
# (kind "feed") and each link listed in a links file not yet fetched (kind "link"), with
# what polite polling needs (validators, failures for the backoff, the next try).
fetch_targets = Table(
    "fetch_targets",
    metadata,
    Column("url", String(2048), primary_key=True),
    Column("kind", String(8), nullable=False),
    Column("etag", Text, nullable=False, default=""),  # validators as the server sent them
    Column("last_modified", Text, nullable=False, default=""),
    Column("last_ok", String(40), nullable=False, default=""),
    Column("last_error", Text, nullable=False, default=""),
    Column("failures", Integer, nullable=False, default=0),
    Column("next_try", String(40), nullable=False, default=""),
    Column("listed_in", Text, nullable=False, default=""),  # a link's links file
    Column("title", Text, nullable=False, default=""),  # a feed's own title, last read
)

# Every article written into content/ from the web, or passed over on purpose (older than
# a feed's backfill, filtered out), so none is ever written twice: by its canonical link
# (`key`; "<feed> <entry id>" when it has none), and for a feed's entry by (feed, entry
# id), which a feed that rewrites its ids, or an article both added and followed, cannot
# get past.
fetched_articles = Table(
    "fetched_articles",
    metadata,
    Column("key", String(600), primary_key=True),  # store.fetched.short_key: at most 500 bytes
    Column("feed", String(2048), nullable=False, default=""),
    Column("entry_id", String(600), nullable=False, default=""),  # short_key too
    Column("path", String(1024), nullable=False, default=""),  # "" when passed over
    Column("seen_at", String(40), nullable=False),
    Index("fetched_articles_entry", "feed", "entry_id"),
)
