//! Customers from CSV (the format of `config/customers.csv`): each bad row is reported
//! with its line number and skipped; the good rows go into the directory.
//!
//! Columns (header required, any order; only `customer_id` and `phone_numbers` are
//! required): customer_id, name, phone_numbers (`;`-separated), tier, preference, language,
//! lifetime_value, influence, tags (`;`-separated), attributes (`key=value;...`),
//! preferred_agent, emails and social_handles (`;`-separated), preferred_channel.

use std::{fmt, fs::File, io::Read, path::Path, sync::Arc};

use switchboard_core::{
    Customer, Directory, Preference, Profile, RoutePlan, TierId, channel::Channel, text::shown,
};

use crate::diagnostic::did_you_mean;

pub const COLUMNS: &[&str] = &[
    "customer_id",
    "name",
    "phone_numbers",
    "tier",
    "preference",
    "language",
    "lifetime_value",
    "influence",
    "tags",
    "attributes",
    "preferred_agent",
    "emails",
    "social_handles",
    "preferred_channel",
];

/// A row that was skipped, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RowError {
    /// 1-based line in the file (the header is line 1).
    pub line: u64,
    pub message: String,
}

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImportReport {
    pub imported: usize,
    pub rejected: Vec<RowError>,
}

/// The file as a whole could not be read.
#[derive(Debug, thiserror::Error)]
pub enum CustomersError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("header: {0}")]
    Header(String),
}

/// Reads a customers file into `directory`.
pub fn import_file(
    path: &Path,
    plan: &RoutePlan,
    directory: &Directory,
) -> Result<ImportReport, CustomersError> {
    let file = File::open(path).map_err(|source| CustomersError::Io {
        path: path.display().to_string(),
        source,
    })?;
    import(file, plan, directory)
}

/// Reads customers CSV from any reader into `directory`.
pub fn import(
    reader: impl Read,
    plan: &RoutePlan,
    directory: &Directory,
) -> Result<ImportReport, CustomersError> {
    import_each(reader, plan, directory, |_| {})
}

/// Like [`import`], handing each customer stored in the directory to `stored` (to
/// persist it, say).
pub fn import_each(
    reader: impl Read,
    plan: &RoutePlan,
    directory: &Directory,
    mut stored: impl FnMut(&Arc<Customer>),
) -> Result<ImportReport, CustomersError> {
    let mut csv = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(reader);
    let header = csv
        .headers()
        .map_err(|e| CustomersError::Header(e.to_string()))?
        .clone();
    let columns = Columns::from_header(&header)?;
    let mut report = ImportReport::default();
    for record in csv.records() {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map_or(0, csv::Position::line);
                let message = match e.kind() {
                    csv::ErrorKind::UnequalLengths {
                        expected_len, len, ..
                    } => {
                        format!("{len} fields where the header has {expected_len}")
                    }
                    _ => e.to_string(),
                };
                report.rejected.push(RowError { line, message });
                continue;
            }
        };
        let line = record.position().map_or(0, csv::Position::line);
        let result = columns
            .customer(&record, plan)
            .and_then(|c| directory.upsert(c).map_err(|e| e.to_string()));
        match result {
            Ok(c) => {
                stored(&c);
                report.imported += 1;
            }
            Err(message) => report.rejected.push(RowError { line, message }),
        }
    }
    Ok(report)
}

/// Column positions from the header.
struct Columns([Option<usize>; COLUMNS.len()]);

impl Columns {
    fn from_header(header: &csv::StringRecord) -> Result<Self, CustomersError> {
        let mut at = [None; COLUMNS.len()];
        for (i, name) in header.iter().enumerate() {
            match COLUMNS.iter().position(|c| *c == name) {
                Some(k) if at[k].is_some() => {
                    return Err(CustomersError::Header(format!(
                        "column {} appears twice",
                        shown(name)
                    )));
                }
                Some(k) => at[k] = Some(i),
                None => {
                    let hint = did_you_mean(name, COLUMNS.iter().copied());
                    return Err(CustomersError::Header(format!(
                        "unknown column {}{hint}",
                        shown(name)
                    )));
                }
            }
        }
        for required in ["customer_id", "phone_numbers"] {
            if at[COLUMNS.iter().position(|c| *c == required).unwrap_or(0)].is_none() {
                return Err(CustomersError::Header(format!(
                    "missing column {required:?}"
                )));
            }
        }
        Ok(Columns(at))
    }

    fn get<'r>(&self, record: &'r csv::StringRecord, column: &str) -> &'r str {
        COLUMNS
            .iter()
            .position(|c| *c == column)
            .and_then(|k| self.0[k])
            .and_then(|i| record.get(i))
            .unwrap_or("")
    }

    fn customer(&self, r: &csv::StringRecord, plan: &RoutePlan) -> Result<Customer, String> {
        let mut numbers = Vec::new();
        for raw in split_list(self.get(r, "phone_numbers")) {
            let n = plan.numbers.normalize(raw).map_err(|e| {
                format!("phone_numbers: {} is not a valid number ({e})", shown(raw))
            })?;
            numbers.push(n);
        }
        let tier = match self.get(r, "tier") {
            "" => TierId(0),
            name => plan.tier_by_name(name).ok_or_else(|| {
                let hint = did_you_mean(name, plan.tiers.iter().map(|t| t.name.as_str()));
                format!("tier: unknown tier {}{hint}", shown(name))
            })?,
        };
        let preference = match self.get(r, "preference") {
            "" => Preference::None,
            p => p.parse().map_err(|e| format!("preference: {e}"))?,
        };
        let lifetime_value = match self.get(r, "lifetime_value") {
            "" => 0.0,
            v => v
                .parse::<f64>()
                .map_err(|_| format!("lifetime_value: {} is not a number", shown(v)))?,
        };
        let influence = match self.get(r, "influence") {
            "" => 0,
            v => v.parse::<u8>().ok().filter(|i| *i <= 100).ok_or_else(|| {
                format!(
                    "influence: {} is not a whole number from 0 to 100",
                    shown(v)
                )
            })?,
        };
        let mut attributes = Vec::new();
        for pair in split_list(self.get(r, "attributes")) {
            let (k, v) = pair
                .split_once('=')
                .ok_or_else(|| format!("attributes: {} is not key=value", shown(pair)))?;
            attributes.push((Box::from(k.trim()), Box::from(v.trim())));
        }
        let agent = self.get(r, "preferred_agent");
        let mut contacts: Vec<Box<str>> = Vec::new();
        for (column, kind) in [
            ("emails", switchboard_core::address::Kind::Email),
            ("social_handles", switchboard_core::address::Kind::Social),
        ] {
            for raw in split_list(self.get(r, column)) {
                let one = match kind {
                    switchboard_core::address::Kind::Email => switchboard_core::address::email(raw),
                    switchboard_core::address::Kind::Social => {
                        switchboard_core::address::handle(raw)
                    }
                }
                .map_err(|e| format!("{column}: {}: {e}", shown(raw)))?;
                contacts.push(one);
            }
        }
        let preferred_channel = match self.get(r, "preferred_channel") {
            "" => None,
            name => Some(Channel::parse(name).ok_or_else(|| {
                let hint = did_you_mean(name, Channel::ALL.iter().map(|c| c.as_str()));
                format!("preferred_channel: unknown channel {}{hint}", shown(name))
            })?),
        };
        Profile {
            id: self.get(r, "customer_id").into(),
            name: self.get(r, "name").into(),
            numbers: numbers.into(),
            tier,
            preference,
            language: self.get(r, "language").into(),
            lifetime_value,
            influence,
            tags: split_list(self.get(r, "tags")).map(Box::from).collect(),
            attributes: attributes.into(),
            preferred_agent: (!agent.is_empty()).then(|| agent.into()),
            contacts: contacts.into(),
            preferred_channel,
        }
        .validated()
        .map(Customer::from)
        .map_err(|e| e.to_string())
    }
}

fn split_list(s: &str) -> impl Iterator<Item = &str> {
    s.split(';').map(str::trim).filter(|p| !p.is_empty())
}
