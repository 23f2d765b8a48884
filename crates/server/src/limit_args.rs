//! `tahc serve`'s input limits: one flag (and TAHC_* variable, and config
//! file key) per limit of [`tahc_api::limits::Limits`]. A value out of its
//! range is refused at start, with the range, like any bad flag (exit 2).

use clap::Args;
use tahc_api::limits::{Limits, TextLimits};

/// The defaults, shown in `--help`.
const DEFAULT: Limits = Limits::DEFAULT;

/// Bounds of a size limit: at least 1; at most 64 MiB.
const MAX_BYTES: u64 = 64 << 20;

/// Texts may be shortened, never lengthened past what the log stores.
const CEILING: TextLimits = TextLimits::CEILING;

/// How big each input may be.
#[derive(Debug, Args)]
#[command(next_help_heading = "Input limits")]
pub struct LimitArgs {
    /// Bytes of an HTTP request body (413 beyond).
    #[arg(long, value_name = "BYTES", env = "TAHC_MAX_BODY_BYTES",
        default_value_t = DEFAULT.body_bytes as u64,
        value_parser = clap::value_parser!(u64).range(1..=MAX_BYTES))]
    max_body_bytes: u64,
    /// Bytes of a GraphQL document.
    #[arg(long, value_name = "BYTES", env = "TAHC_MAX_QUERY_BYTES",
        default_value_t = DEFAULT.query_bytes as u64,
        value_parser = clap::value_parser!(u64).range(1..=MAX_BYTES))]
    max_query_bytes: u64,
    /// Nesting depth of a GraphQL selection.
    #[arg(long, value_name = "N", env = "TAHC_MAX_DEPTH",
        default_value_t = DEFAULT.depth as u64,
        value_parser = clap::value_parser!(u64).range(1..=100))]
    max_depth: u64,
    /// Complexity of a GraphQL operation.
    #[arg(long, value_name = "N", env = "TAHC_MAX_COMPLEXITY",
        default_value_t = DEFAULT.complexity as u64,
        value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    max_complexity: u64,
    /// Fields one mutation operation may select (LIMIT_EXCEEDED beyond;
    /// each past the first is charged to the rate limit).
    #[arg(long, value_name = "N", env = "TAHC_MAX_MUTATION_FIELDS",
        default_value_t = DEFAULT.mutation_fields as u64,
        value_parser = clap::value_parser!(u64).range(1..=1_000))]
    max_mutation_fields: u64,
    /// Bytes of one WebSocket message (closed with 1009 beyond).
    #[arg(long, value_name = "BYTES", env = "TAHC_MAX_FRAME_BYTES",
        default_value_t = DEFAULT.frame_bytes as u64,
        value_parser = clap::value_parser!(u64).range(1..=MAX_BYTES))]
    max_frame_bytes: u64,
    /// Subscriptions running at once on one WebSocket connection.
    #[arg(long, value_name = "N", env = "TAHC_MAX_OPERATIONS_PER_CONNECTION",
        default_value_t = DEFAULT.operations_per_connection as u64,
        value_parser = clap::value_parser!(u64).range(1..=10_000))]
    max_operations_per_connection: u64,
    /// WebSocket connections one visitor may hold open at once.
    #[arg(long, value_name = "N", env = "TAHC_MAX_CONNECTIONS_PER_VISITOR",
        default_value_t = DEFAULT.connections_per_visitor as u64,
        value_parser = clap::value_parser!(u64).range(1..=1_000))]
    max_connections_per_visitor: u64,
    /// WebSocket connections one client address may hold open at once (429
    /// beyond; behind a reverse proxy every client shares its address).
    #[arg(long, value_name = "N", env = "TAHC_MAX_CONNECTIONS_PER_ADDRESS",
        default_value_t = DEFAULT.connections_per_address as u64,
        value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    max_connections_per_address: u64,
    /// WebSocket connections this node holds open at once (429 beyond).
    #[arg(long, value_name = "N", env = "TAHC_MAX_CONNECTIONS",
        default_value_t = DEFAULT.connections as u64,
        value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    max_connections: u64,
    /// Characters of a message body.
    #[arg(long, value_name = "CHARS", env = "TAHC_MAX_MESSAGE_CHARS",
        default_value_t = CEILING.message_chars as u64,
        value_parser = clap::value_parser!(u64).range(1..=CEILING.message_chars as u64))]
    max_message_chars: u64,
    /// Characters of a visitor's or contact's name.
    #[arg(long, value_name = "CHARS", env = "TAHC_MAX_NAME_CHARS",
        default_value_t = CEILING.name_chars as u64,
        value_parser = clap::value_parser!(u64).range(1..=CEILING.name_chars as u64))]
    max_name_chars: u64,
    /// Characters of an email address.
    #[arg(long, value_name = "CHARS", env = "TAHC_MAX_EMAIL_CHARS",
        default_value_t = CEILING.email_chars as u64,
        value_parser = clap::value_parser!(u64).range(1..=CEILING.email_chars as u64))]
    max_email_chars: u64,
    /// Characters of a note on a contact.
    #[arg(long, value_name = "CHARS", env = "TAHC_MAX_NOTE_CHARS",
        default_value_t = CEILING.note_chars as u64,
        value_parser = clap::value_parser!(u64).range(1..=CEILING.note_chars as u64))]
    max_note_chars: u64,
    /// Characters of a custom field's text value.
    #[arg(long, value_name = "CHARS", env = "TAHC_MAX_FIELD_VALUE_CHARS",
        default_value_t = CEILING.field_value_chars as u64,
        value_parser = clap::value_parser!(u64).range(1..=CEILING.field_value_chars as u64))]
    max_field_value_chars: u64,
    /// Seconds a connection has to send a whole request head (from when it
    /// opened or was last answered; closed beyond), and then its body (408
    /// beyond).
    #[arg(long, value_name = "SECONDS", env = "TAHC_REQUEST_READ_TIMEOUT",
        default_value_t = DEFAULT.request_read.as_secs(),
        value_parser = clap::value_parser!(u64).range(1..=3_600))]
    request_read_timeout: u64,
    /// Seconds a write may wait for the client to take any of it (an
    /// answer, an export, WebSocket frames) before the connection is
    /// closed.
    #[arg(long, value_name = "SECONDS", env = "TAHC_RESPONSE_WRITE_TIMEOUT",
        default_value_t = DEFAULT.response_write.as_secs(),
        value_parser = clap::value_parser!(u64).range(1..=3_600))]
    response_write_timeout: u64,
    /// Minutes the client address of a blocked visitor may open no new
    /// widget session (0: addresses are never blocked; set 0 behind a
    /// reverse proxy, where every client shares its address).
    #[arg(long, value_name = "MINUTES", env = "TAHC_BLOCK_ADDRESS_MINUTES",
        default_value_t = DEFAULT.address_block.as_secs() / 60,
        value_parser = clap::value_parser!(u64).range(0..=525_600))]
    block_address_minutes: u64,
}

impl LimitArgs {
    /// The limits the flags ask for (each fits a `usize`: clap checked the
    /// range).
    pub fn limits(&self) -> Limits {
        let n = |value: u64| usize::try_from(value).unwrap_or(usize::MAX);
        Limits {
            body_bytes: n(self.max_body_bytes),
            query_bytes: n(self.max_query_bytes),
            depth: n(self.max_depth),
            complexity: n(self.max_complexity),
            mutation_fields: n(self.max_mutation_fields),
            frame_bytes: n(self.max_frame_bytes),
            operations_per_connection: n(self.max_operations_per_connection),
            connections_per_visitor: n(self.max_connections_per_visitor),
            connections_per_address: n(self.max_connections_per_address),
            connections: n(self.max_connections),
            text: TextLimits {
                message_chars: n(self.max_message_chars),
                name_chars: n(self.max_name_chars),
                email_chars: n(self.max_email_chars),
                note_chars: n(self.max_note_chars),
                field_value_chars: n(self.max_field_value_chars),
            },
            request_read: std::time::Duration::from_secs(self.request_read_timeout),
            response_write: std::time::Duration::from_secs(self.response_write_timeout),
            address_block: std::time::Duration::from_secs(self.block_address_minutes * 60),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;
    use std::time::Duration;

    #[derive(Parser)]
    struct Flags {
        #[command(flatten)]
        limits: LimitArgs,
    }

    fn limits(flags: &[&str]) -> Limits {
        let args = std::iter::once("tahc").chain(flags.iter().copied());
        Flags::try_parse_from(args).unwrap().limits.limits()
    }

    #[test]
    fn no_flags_give_the_default_limits() {
        assert_eq!(limits(&[]), Limits::DEFAULT);
    }

    #[test]
    fn the_connection_deadlines_are_set_in_seconds() {
        let set = limits(&[
            "--request-read-timeout",
            "7",
            "--response-write-timeout",
            "9",
        ]);
        assert_eq!(set.request_read, Duration::from_secs(7));
        assert_eq!(set.response_write, Duration::from_secs(9));
        assert_eq!(set.body_bytes, Limits::DEFAULT.body_bytes);
    }
}
