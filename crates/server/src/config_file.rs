//! `tahc serve --config FILE`: settings from a TOML file.
//!
//! Every key is the long name of a `serve` flag (`listen`, `data-dir` or
//! `data_dir`, `visitor-rate`, …). A value from the file takes the place of
//! the flag's built-in default, so a flag on the command line or its
//! `TAHC_*` environment variable still wins over the file. The values are
//! checked exactly as the flag's would be.

use std::path::Path;

use clap::Command;

/// Why a configuration file was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// It could not be read.
    #[error("cannot read the configuration file {path}: {source}")]
    Unreadable {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// It is not TOML.
    #[error("the configuration file {path} is not valid TOML: {message}")]
    NotToml {
        /// The file.
        path: String,
        /// Where and why, as the TOML parser says.
        message: String,
    },
    /// A key that is no setting of `serve`.
    #[error("`{key}` in {path} is not a setting of `tahc serve` (see `tahc serve --help`)")]
    UnknownSetting {
        /// The file.
        path: String,
        /// The key.
        key: String,
    },
    /// A value that is neither a string, a number nor a boolean.
    #[error("`{key}` in {path} must be a string, a number or a boolean")]
    NotAValue {
        /// The file.
        path: String,
        /// The key.
        key: String,
    },
}

/// The settings of `path`, as `(flag id, value)` pairs of `serve`.
pub fn load(path: &Path, serve: &Command) -> Result<Vec<(String, String)>, ConfigError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Unreadable {
        path: shown.clone(),
        source,
    })?;
    let table: toml::Table =
        text.parse()
            .map_err(|error: toml::de::Error| ConfigError::NotToml {
                path: shown.clone(),
                message: error.message().to_owned(),
            })?;
    table
        .into_iter()
        .map(|(key, value)| {
            let long = key.replace('_', "-");
            let Some(arg) = serve
                .get_arguments()
                .find(|arg| arg.get_long() == Some(long.as_str()) && long != "config")
            else {
                return Err(ConfigError::UnknownSetting {
                    path: shown.clone(),
                    key,
                });
            };
            let value = match value {
                toml::Value::String(text) => text,
                toml::Value::Integer(number) => number.to_string(),
                toml::Value::Float(number) => number.to_string(),
                toml::Value::Boolean(flag) => flag.to_string(),
                _ => {
                    return Err(ConfigError::NotAValue {
                        path: shown.clone(),
                        key,
                    });
                }
            };
            Ok((arg.get_id().to_string(), value))
        })
        .collect()
}

/// `serve` with `settings` as its defaults.
pub fn apply(serve: Command, settings: Vec<(String, String)>) -> Command {
    settings.into_iter().fold(serve, |serve, (id, value)| {
        // Leaked once per setting at start-up: clap keeps defaults as
        // `'static` strings.
        let value: &'static str = Box::leak(value.into_boxed_str());
        serve.mut_arg(id, |arg| arg.default_value(value))
    })
}
