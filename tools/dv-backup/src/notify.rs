//! The e-mail report, through SMTP (lettre).

use anyhow::{Context, Result};
use lettre::message::header::{ContentTransferEncoding, ContentType};
use lettre::message::{Body, SinglePart};
use lettre::{Message, SmtpTransport, Transport};

use crate::config::Notifications;
use crate::run::Report;

/// Sends the report to `to` (comma-separated addresses allowed).
pub(crate) fn send(config: &Notifications, to: &str, report: &Report) -> Result<()> {
    let now = dataverse_source::Timestamp::now().to_string();
    let mut builder = Message::builder()
        .from(
            config
                .from
                .parse()
                .with_context(|| format!("From address {:?}", config.from))?,
        )
        .subject(format!("Dataverse datafile backup report [{}]", &now[..16]));
    for addr in to.split(',').map(str::trim).filter(|a| !a.is_empty()) {
        builder = builder.to(addr.parse().with_context(|| format!("address {addr:?}"))?);
    }
    // 8bit keeps the report readable as is (and greppable in a mailbox);
    // lines too long for it fall back to quoted-printable.
    let text = report.text();
    let body = Body::new_with_encoding(text.clone(), ContentTransferEncoding::EightBit)
        .unwrap_or_else(|_| Body::new(text));
    let message = builder
        .singlepart(
            SinglePart::builder()
                .header(ContentType::TEXT_PLAIN)
                .body(body),
        )
        .context("building the message")?;
    // Plain SMTP to a relay (the local MTA by default), as the original's
    // `mail` command did.
    let mailer = SmtpTransport::builder_dangerous(&config.smtp_host)
        .port(config.smtp_port)
        .timeout(Some(std::time::Duration::from_secs(60)))
        .build();
    mailer
        .send(&message)
        .with_context(|| format!("SMTP {}:{}", config.smtp_host, config.smtp_port))?;
    Ok(())
}
