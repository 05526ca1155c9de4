//! Stack trace rules (Sentry's `groupingEnhancements` project field), e.g.
//!
//! ```text
//! stack.module:myapp.** +app
//! stack.function:log_* -group
//! family:native stack.function:core::panicking::* ^-app -app ^-group
//! ```
//!
//! They change which frames are in-app and which frames take part in grouping.

use crate::settings::RuleError;

/// A project's parsed stack trace rules, with the text they came from.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Enhancements {
    text: String,
}

impl Enhancements {
    /// Parses rule text; errors name the line and the reason.
    pub fn parse(text: &str) -> Result<Enhancements, RuleError> {
        match text.lines().enumerate().find(|(_, l)| {
            let l = l.trim();
            !l.is_empty() && !l.starts_with('#')
        }) {
            None => Ok(Enhancements {
                text: text.to_owned(),
            }),
            Some((index, _)) => Err(RuleError {
                line: index + 1,
                message: "stack trace rules are not supported yet".to_owned(),
            }),
        }
    }

    /// The rule text as the user wrote it.
    pub fn text(&self) -> &str {
        &self.text
    }
}
