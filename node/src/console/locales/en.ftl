# Liaison console — English (the reference catalogue: every other language has every message).
# Dates: { $day } { $month } { $year }, { $hour }:{ $minute } — all in UTC, as the log records.
datetime = { $day } { $month } { $year }, { $hour }:{ $minute } UTC
month-1 = Jan
month-2 = Feb
month-3 = Mar
month-4 = Apr
month-5 = May
month-6 = Jun
month-7 = Jul
month-8 = Aug
month-9 = Sep
month-10 = Oct
month-11 = Nov
month-12 = Dec
bytes = { $n-count ->
    [one] { $n } byte
   *[other] { $n } bytes
}

## Layout
skip-to-content = Skip to content
nav-label = Main
nav-inbox = Inbox
nav-compose = Compose
nav-status = Node status
nav-log = Audit log
language = Language
signed-in-as = Signed in as
who-token = the API token holder
logout = Log out
role-officer = officer
role-supervisor = supervisor
role-auditor = auditor
back-to-inbox = Back to the inbox
back-to-log = Back to the log

## Login
login-title = Sign in
login-intro = Officers with a certificate use the node's HTTPS address. On the node's own host, sign in with the API token.
login-token = API token
login-token-hint = The content of the node's api.token_file.
login-submit = Sign in

## Inbox
inbox-title = Inbox
inbox-count = { $n-count ->
    [one] { $n } message
   *[other] { $n } messages
}
inbox-unread = { $n } unread
inbox-shown = Showing { $n } of { $total }, unread first
inbox-empty = No messages match.
filters = Filters
filter-any = Any
filter-apply = Apply
filter-clear = Clear filters
filter-unread = Unread only
field-sender = Sender
col-tlp = TLP
col-state = State
col-kind = Kind
col-summary = Summary
col-from = From
col-case = Case
col-eval = Eval.
col-received = Received
unread = New
read = Read
no-text = (no text)
content-hidden = Content is not shown to your role.
content-purged = The body of this message was purged under the retention policy; its log entries and trail remain.
overdue = Overdue
request-answered = Answered

## Kinds
kind-alert = Alert
kind-request = Request
kind-reply = Reply
kind-retraction = Retraction
kind-case-open = Case opened
kind-case-invite = Case invitation
kind-case-join = Case joined
kind-case-update = Case update
kind-case-task = Case task
kind-case-close = Case closed
kind-case-remove = Left or removed from the case
kind-case-status = Case suspended or resumed
kind-share = Share
kind-consent-request = Consent request
kind-consent-answer = Consent answer
kind-deconfliction = Deconfliction notice

## Message
message-title = { $kind }
sent-notice = Sent. The message is signed, logged and queued for its next hops.
section-handling = Handling
section-header = Header
section-content = Content
section-entities = Entities
section-trail = Delivery trail
field-id = Message id
field-kind = Kind
field-originator = Originator
field-recipients = Recipients
field-created = Created
field-case = Case
field-in-reply-to = In reply to
field-role = This node
field-from = Received from
field-route = Route
field-reply-by = Reply by
field-language = Language
field-h-codes = EU handling codes
field-originator-control = Originator control (H2)
field-releasability = Releasable to
field-eval = Evaluation
field-h0 = H0: use only to prevent and combat crime
field-h1 = H1: not for judicial proceedings without the originator's permission
field-h3 = H3: other restrictions
h2-meaning = Do not pass on without the originator's consent.
msg-role-originated = sent it
msg-role-delivered = received it
msg-role-relayed = relayed it
col-entity-type = Type
col-entity-value = Value
entity-person = Person
entity-organisation = Organisation
entity-document = Document
entity-phone = Phone
entity-email = E-mail
entity-vehicle = Vehicle
entity-vessel = Vessel
entity-container = Container
entity-flight = Flight
entity-wallet = Crypto wallet
entity-location = Location
entity-event = Event
ack-button = Acknowledge
proof-download = Download inclusion proof
trail-hops = Next hops and their signed receipts
trail-no-hops = No hop has answered yet.
trail-pending = Waiting for:
trail-entries = Log entries
col-peer = Peer
col-outcome = Outcome
col-at = Time
col-proof = Receipt
outcome-relayed = relayed
outcome-delivered = delivered

## TLP (the labels stay as written in TLP 2.0; their meanings are translated)
tlp-meaning-clear = No limit on disclosure.
tlp-meaning-green = The community, not public.
tlp-meaning-amber = The recipients' organisations and their clients, need to know.
tlp-meaning-amber-strict = The recipients' organisations only.
tlp-meaning-red = The named recipients only.
field-tlp = TLP

## Evaluation (4x4)
eval-source-a = source always reliable
eval-source-b = source mostly reliable
eval-source-c = source mostly unreliable
eval-source-x = source reliability cannot be assessed
eval-info-1 = accuracy not in doubt
eval-info-2 = known personally to the source
eval-info-3 = corroborated
eval-info-4 = cannot be corroborated
field-eval-source = Source
field-eval-info = Information

## Request urgency
field-urgency = Urgency (requests)
urgency-none = —
urgency-urgent = Urgent (8 hours)
urgency-three-days = Three days
urgency-seven-days = Seven days
hint-urgency = Only for a request: the reply deadline.

## Compose
compose-title = Compose
compose-message = Message
hint-in-reply-to = For a reply or retraction: the id of the message it answers (64 hex digits).
field-to-other = Other recipients
hint-to-other = Node ids (centre.network) or network:name, separated by spaces or commas.
field-release-other = Also releasable to
hint-release = network:name, centre:name or node ids. Empty: the recipients' nodes and networks.
field-text = Text
field-entities = Entities
hint-entities = One per line, type=value: phone=+77011234567, email=…, container=MSCU1234565, person=Name.
send-button = Sign and send
lang-en = English
lang-ru = Russian
lang-ar = Arabic
lang-fr = French
lang-es = Spanish
lang-zh = Chinese
lang-kk = Kazakh
lang-ky = Kyrgyz
lang-tg = Tajik
lang-uz = Uzbek
lang-tk = Turkmen
lang-fa = Persian
lang-ps = Pashto
lang-ur = Urdu

## Status
status-title = Node status
section-alarms = Alarms
section-case-gaps = Case messages not yet received
alarms-none = No alarms.
section-node = This node
section-peers = Peers
section-checkpoint = Last signed checkpoint
field-node = Node
field-listen = QUIC address
field-log-size = Log entries
field-log-root = Log root
field-unread = Unread
field-disk = Store on disk
col-address = Address
col-session = Session
col-since = Since
col-outbox = Outbox
col-sent = Sent
col-receipts = Receipts
col-last-error = Last error
section-expiries = Certificates and revocation lists
col-expiry-what = What
col-expiry-at = Ends
col-days-left = Days left
expired = Ended
peer-up = up
peer-down = down
no-checkpoint = No checkpoint has been signed yet.

## Audit log
log-title = Audit log
log-range = Entries { $from }–{ $to } of { $size }
log-shown = { $n-count ->
    [one] { $n } entry shown, newest first
   *[other] { $n } entries shown, newest first
}
log-empty = No entries match.
log-verify = Verify the whole log
log-export = Download export (JSON lines)
log-older = ← Older
log-newer = Newer →
log-pages = Pages
field-message-id = Message id
field-event-type = Event
field-search = Contains
col-index = #
col-event = Event
event-sent = Sent
event-received = Received
event-relayed = Relayed
event-refused = Refused
event-receipt-sent = Receipt sent
event-receipt-received = Receipt received
event-refusal-received = Refusal received
event-acknowledged = Acknowledged
event-admin = Administration
event-purged = Purged
event-message = message
event-from = from
event-to = to
event-peer = peer
event-status = status
event-reason = reason
event-by = by
event-act = act
event-rule = rule
verify-title = Log verification
verify-ok = Every entry, checkpoint, cosignature and stored message holds.
verify-failed = { $n-count ->
    [one] { $n } problem found:
   *[other] { $n } problems found:
}
verify-entries = Entries
verify-checkpoints = Checkpoints checked
verify-checkpoint-size = Covered by the newest checkpoint
verify-cosignatures = Cosignatures verified
verify-messages = Messages verified
verify-answers = Receipts and refusals verified

## Errors (by reason code; the node's own detail follows in English)
error-code = Reason code:
error-detail = Detail:
error-other = The request failed.
error-refused = The node refused the message.
error-unauthenticated = Sign in first: no valid client certificate or session.
error-bad-token = That is not the node's API token.
error-too-many-attempts = Too many failed sign-ins from this address. Wait a moment and try again.
error-forbidden-role = Your role may not do this.
error-csrf-token-missing = The form was not sent by this console (no security token). Reload the page and try again.
error-csrf-token-invalid = The form's security token is not valid for your session. Reload the page and try again.
error-csrf-cross-origin = The form was posted from another site and was refused.
error-form-too-large = The form is too large.
error-unknown-message = No message with this id is known to this node.
error-not-in-inbox = Only messages delivered to this node can be acknowledged.
error-message-purged = The body of this message was purged.
error-no-checkpoint = No checkpoint has been signed yet.
error-no-such-endpoint = There is no such page.
error-method-not-allowed = This page does not take that method.
error-malformed-request = The request is malformed.
error-internal-error = The node failed; the detail is in its log.
error-audit-failed = The log could not be verified.
error-export-failed = The export could not be written.
error-no-route = There is no route to a recipient.
error-no-sealing-key = The sealing key of a recipient is not known yet; try again once its node has connected.
error-releasability-violation = A recipient or hop is outside the releasability.
error-tlp-red-violation = TLP:RED goes only to its named recipient nodes.
error-tlp-amber-strict-violation = TLP:AMBER+STRICT never leaves the recipients' organisations.
error-originator-control = Originator control forbids this without consent.
error-invalid-field = A field is not valid.
error-invalid-handling = The handling is inconsistent (check recipients, TLP and releasability).
error-invalid-message = The message as composed is not valid (check the fields).
status-400 = Bad request
status-401 = Not signed in
status-403 = Forbidden
status-404 = Not found
status-405 = Method not allowed
status-410 = Gone
status-413 = Too large
status-422 = Refused
status-500 = Node error

## Cases
nav-cases = Cases
cases-title = Cases
cases-empty = This node takes part in no case yet.
col-title = Title
col-lead = Lead
col-standing = Standing
col-participants = Participants
col-updates = Updates
col-open-tasks = Open tasks
col-last-activity = Last activity
col-task = Task
col-assignee = Assignee
col-due = Due
col-note = Note
field-opened = Opened
section-summary = Summary
section-participants = Participants
section-tasks = Tasks
section-updates = Updates
section-timeline = Timeline
tasks-none = No tasks.
case-status-open = open
case-status-suspended = suspended
case-status-closed = closed
standing-lead = lead
standing-invited = invited
standing-participant = participant
standing-declined = declined
standing-left = left
standing-removed = removed
task-status-open = open
task-status-in-progress = in progress
task-status-done = done
task-status-cancelled = cancelled
error-unknown-case = This node knows no such case.
## Case actions
section-case-actions = Act on this case
case-done = Done: the case message is signed, logged and queued for the case's members.
case-not-yet-received = Not yet received by:
section-case-earlier = Earlier messages
case-earlier-rule = A participant receives the case messages written after it joined. Earlier ones stay with the participants of their time unless their originator shares them: each originator shares its own, re-sealed for the newcomer and checked against their handling. Updates sent to only some participants are not shared.
case-earlier-count = { $n-count ->
    [one] joined after { $n } message of this centre, which it has not received.
   *[other] joined after { $n } messages of this centre, which it has not received.
}
case-earlier-button = Share them
case-no-effect = No effect
case-open-title = Open a case
case-open-case = Case
field-case-id = Case id
field-case-title = Title
hint-case-id = Empty: one is made up (CENTRE-year-XXXX).
field-invitees = Invite
field-nodes-other = Other nodes
hint-nodes-other = Node ids (centre.network), separated by spaces or commas.
hint-case-release = network:name, centre:name or node ids. Empty: the networks of this node and of the nodes invited.
field-summary = Summary text
case-open-button = Open the case
case-invitation = This centre is invited to this case. Accepting makes it a participant: it receives the case's updates and tasks and may post.
case-accept-button = Accept the invitation
case-decline-button = Decline
case-closed-note = The case is closed; closing is final.
case-suspended-note = The lead suspended the case: only the lead posts until it resumes it.
case-update-legend = Post an update
field-update-to = Only to
hint-update-to = None ticked: every participant.
tlp-case-default = The case's ({ $tlp })
hint-update-tlp = The case's TLP or a stricter one.
hint-update-release = The case's releasability: untick to narrow it for this update.
case-update-button = Post the update
case-task-legend = New task
field-task-title = What is to be done
hint-due = Optional; the end of that day, UTC.
case-task-button = Create the task
case-task-change-legend = Change a task
case-task-change-button = Change the task
case-invite-legend = Invite centres
field-invite-note = Note to the invitees
case-invite-button = Invite
case-remove-legend = Remove a participant
field-participant = Participant
case-remove-button = Remove
field-reason = Reason
case-suspend-legend = Suspend the case
hint-suspend = While the case is suspended, only the lead posts.
case-suspend-button = Suspend
case-resume-legend = Resume the case
hint-resume = Participants may post again.
case-resume-button = Resume
case-close-legend = Close the case
field-close-confirm = Closing is final: nobody can post to the case afterwards.
case-close-button = Close the case
case-leave-legend = Leave the case
hint-leave = This centre stops receiving the case's updates and tasks.
case-leave-button = Leave the case
error-case-exists = This node already holds a case with this id; choose another.
error-case-closed = The case is closed; closing is final.
error-case-suspended = The case is suspended: only the lead posts until it resumes it.
error-case-handling = The handling is broader than the case's (TLP, releasability or H-codes).
error-not-a-participant = A sender, recipient or assignee is not a participant of the case.
error-not-case-lead = Only the lead centre does this (and the lead cannot leave).
error-not-invited = This centre has no open invitation to the case.
error-already-participant = That centre already takes part.
error-unknown-task = The case has no such task.
error-not-task-party = Only the task's creator, its assignee or the lead change a task.

## Onward sharing, consent, retention
section-onward = Share onward
hint-onward = Sharing a message with nodes that were not among its recipients follows its handling rules: an originator-controlled (H2) message needs its originator's consent first, and the originator re-seals the content for them.
share-legend = Share with further nodes
field-share-to = Nodes
share-button = Share
consent-request-legend = Ask the originator's consent
consent-request-button = Ask for consent
section-consent-answer = Answer this consent request
hint-consent-answer = A grant re-seals your message's content for the nodes named and lets the centre that asked share it with them; a denial tells it no.
grant-legend = Grant
deny-legend = Deny
field-expires = Valid for
expires-1d = 24 hours
expires-7d = 7 days
expires-30d = 30 days
expires-never = No expiry
grant-button = Grant consent
deny-button = Deny consent
done-share = Shared: the share is signed, logged and queued for the nodes named.
done-consent-request = Consent asked: the request is signed, logged and on its way to the originator.
done-consent-answer = Answered: your answer is signed, logged and on its way to the centre that asked.
section-retention = Retention
retention-none = No message body is due for deletion under the retention rules.
retention-due = { $n-count ->
    [one] { $n } message body is due for deletion under the retention rules:
   *[other] { $n } message bodies are due for deletion under the retention rules:
}
field-purge-confirm = Deleting is final: each body is overwritten and a purged entry is logged
purge-button = Delete them
purged-notice = { $n-count ->
    [one] { $n } message body deleted; its purged entry is in the log.
   *[other] { $n } message bodies deleted; each has its purged entry in the log.
}
