//! Outgoing mail: an outbox in the database, and a worker that delivers it.
//!
//! * [`templates`] renders the two mails restauth sends (email confirmation,
//!   password reset) into an [`outbox::Message`]: subject, text and an HTML
//!   alternative, from built-in templates or overrides in `[mail] templates_dir`.
//! * [`outbox`] holds every SQL statement about the `outbox` table. The code
//!   that causes a mail calls [`outbox::enqueue`] inside its own transaction,
//!   so a rolled-back request sends nothing.
//! * [`worker`] runs one thread that delivers due messages oldest first, with
//!   retries and exponential backoff, and resumes after a restart; the server
//!   calls [`worker::MailWorker::wake`] after a commit that enqueued mail.
//! * [`email`] turns an outbox row into an RFC 5322 message (lettre's builder),
//!   the same bytes for both backends:
//!   * [`spool`] writes one `.eml` file per message, atomically;
//!   * [`smtp`] relays through lettre's `SmtpTransport` (rustls).
//!
//! Nothing here logs a body, a key or a token; logs name the outbox id and
//! the recipient's domain.

pub mod email;
pub mod outbox;
pub mod smtp;
pub mod spool;
pub mod templates;
pub mod worker;
