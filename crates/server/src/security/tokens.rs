//! Bearer tokens: made by `switchboard token new`, shown once, and kept in a file of
//! their own as SHA-256 hashes (never the tokens). A token reads `sbt_<id>_<secret>`:
//! the id finds its entry, and the hash of the whole token is compared in constant time.
//!
//! The file is TOML, one `[[tokens]]` entry per token; deleting an entry revokes its
//! token (a running server reads the file again within a second of a change).

use std::{
    collections::HashMap,
    fmt::Write as _,
    io::Write as _,
    path::{Path, PathBuf},
    sync::Arc,
};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use switchboard_config::security::{Grant, Role};

use super::{Identity, Via};

const PREFIX: &str = "sbt_";
/// Hex digits of a token's id and of its secret (8 and 32 random bytes).
const ID_HEX: usize = 16;
const SECRET_HEX: usize = 64;
/// A token is this long exactly; anything else is not one of ours.
pub const TOKEN_LEN: usize = PREFIX.len() + ID_HEX + 1 + SECRET_HEX;
/// The longest name a token may carry.
const MAX_NAME: usize = 64;
/// What the file says about itself at the top.
const HEADER: &str = "# Switchboard bearer tokens, written by `switchboard token new`: hashes only, never\n# the tokens. Delete an entry to revoke its token; a running server reads this file\n# again within a second of a change.\n";

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {problem}")]
    Invalid { path: String, problem: String },
    #[error("{0}")]
    Argument(String),
    #[error("no randomness from the operating system: {0}")]
    Random(String),
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct TokenFile {
    #[serde(default)]
    tokens: Vec<Entry>,
}

/// One token as stored.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    id: String,
    name: String,
    role: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    switches: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    agents: Vec<String>,
    sha256: String,
    created: String,
}

/// The tokens of one file, ready to check requests against.
#[derive(Debug, Default)]
pub(crate) struct TokenTable {
    by_id: HashMap<String, (Hash, Arc<Identity>), foldhash::fast::RandomState>,
}

type Hash = [u8; 32];

fn hash(token: &str) -> Hash {
    Sha256::digest(token.as_bytes()).into()
}

fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

fn unhex(text: &str) -> Option<Hash> {
    if text.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, pair) in text.as_bytes().chunks(2).enumerate() {
        let s = std::str::from_utf8(pair).ok()?;
        out[i] = u8::from_str_radix(s, 16).ok()?;
    }
    Some(out)
}

impl TokenTable {
    /// Reads a tokens file; a missing file is an empty table (no token is accepted yet).
    pub(crate) fn load(path: &Path) -> Result<TokenTable, TokenError> {
        let file = read(path)?;
        let shown = path.display().to_string();
        let mut by_id = HashMap::default();
        for (i, e) in file.tokens.into_iter().enumerate() {
            let invalid = |problem: String| TokenError::Invalid {
                path: shown.clone(),
                problem: format!("tokens[{i}] ({:?}): {problem}", e.name),
            };
            let role = Role::parse(&e.role).map_err(invalid)?;
            let grant = Grant::new(role, e.switches.clone(), e.agents.clone()).map_err(invalid)?;
            let sha =
                unhex(&e.sha256).ok_or_else(|| invalid("sha256 is not 64 hex digits".into()))?;
            if e.id.len() != ID_HEX || !e.id.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(invalid(format!("id is not {ID_HEX} hex digits")));
            }
            let identity = Arc::new(Identity::new(
                &e.name,
                grant,
                Via::Token(Arc::from(e.id.as_str())),
            ));
            if by_id.insert(e.id.clone(), (sha, identity)).is_some() {
                return Err(invalid(format!("id {} is listed twice", e.id)));
            }
        }
        Ok(TokenTable { by_id })
    }

    /// The identity a presented token stands for, if it is one of the file's.
    pub(crate) fn verify(&self, token: &str) -> Option<&Arc<Identity>> {
        if token.len() != TOKEN_LEN || !token.starts_with(PREFIX) {
            return None;
        }
        let id = token.get(PREFIX.len()..PREFIX.len() + ID_HEX)?;
        let (stored, identity) = self.by_id.get(id)?;
        bool::from(hash(token).ct_eq(stored)).then_some(identity)
    }

    pub(crate) fn len(&self) -> usize {
        self.by_id.len()
    }
}

fn read(path: &Path) -> Result<TokenFile, TokenError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(TokenFile::default()),
        Err(source) => {
            return Err(TokenError::Io {
                path: path.display().to_string(),
                source,
            });
        }
    };
    toml::from_str(&text).map_err(|e| TokenError::Invalid {
        path: path.display().to_string(),
        problem: e.message().to_string(),
    })
}

/// A token made and stored: the token itself, shown once.
#[derive(Debug)]
pub struct NewToken {
    pub token: String,
    pub id: String,
}

/// Makes a token for `name` with `grant` and adds its hash to the file at `path`
/// (created, readable by its owner only, when missing). The file is replaced whole, so
/// a server reading it never sees half an entry.
pub fn create(path: &Path, name: &str, grant: &Grant) -> Result<NewToken, TokenError> {
    if name.is_empty()
        || name.len() > MAX_NAME
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.@".contains(&b))
    {
        return Err(TokenError::Argument(format!(
            "--name {:?}: 1 to {MAX_NAME} letters, digits and - _ . @",
            switchboard_core::text::prefix(name, MAX_NAME)
        )));
    }
    let mut file = read(path)?;
    if file.tokens.iter().any(|t| t.name == name) {
        return Err(TokenError::Argument(format!(
            "{}: a token named {name:?} exists; revoke it first (delete its entry) or choose another name",
            path.display()
        )));
    }
    let mut random = [0u8; 40];
    getrandom::fill(&mut random).map_err(|e| TokenError::Random(e.to_string()))?;
    let id = hex(&random[..8]);
    let token = format!("{PREFIX}{id}_{}", hex(&random[8..]));
    file.tokens.push(Entry {
        id: id.clone(),
        name: name.to_owned(),
        role: grant.role.name().to_owned(),
        switches: grant.switches.iter().cloned().collect(),
        agents: match &grant.agents {
            switchboard_config::security::Agents::Any => vec!["*".into()],
            switchboard_config::security::Agents::Listed(a) => a.iter().cloned().collect(),
        },
        sha256: hex(&hash(&token)),
        created: now_utc(),
    });
    write(path, &file)?;
    Ok(NewToken { token, id })
}

/// A stored token, as `switchboard token list` shows it (no hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub id: String,
    pub name: String,
    pub role: String,
    pub bound: String,
    pub created: String,
}

/// The tokens of the file at `path`, in the order they were made.
pub fn list(path: &Path) -> Result<Vec<Listed>, TokenError> {
    Ok(read(path)?
        .tokens
        .into_iter()
        .map(|e| Listed {
            bound: if !e.switches.is_empty() {
                format!("switches {}", e.switches.join(", "))
            } else if !e.agents.is_empty() {
                format!("agents {}", e.agents.join(", "))
            } else {
                String::new()
            },
            id: e.id,
            name: e.name,
            role: e.role,
            created: e.created,
        })
        .collect())
}

/// Removes the token named `name` (or with id `name`) from the file; a running server
/// refuses it within a second. Whether there was one.
pub fn revoke(path: &Path, name: &str) -> Result<bool, TokenError> {
    let mut file = read(path)?;
    let before = file.tokens.len();
    file.tokens.retain(|t| t.name != name && t.id != name);
    if file.tokens.len() == before {
        return Ok(false);
    }
    write(path, &file)?;
    Ok(true)
}

/// Now in UTC, to the second.
fn now_utc() -> String {
    let now = jiff::Timestamp::now();
    now.round(jiff::Unit::Second).unwrap_or(now).to_string()
}

fn write(path: &Path, file: &TokenFile) -> Result<(), TokenError> {
    let io = |source| TokenError::Io {
        path: path.display().to_string(),
        source,
    };
    let body = toml::to_string(file).map_err(|e| TokenError::Invalid {
        path: path.display().to_string(),
        problem: e.to_string(),
    })?;
    let tmp: PathBuf = {
        let mut name = path.file_name().unwrap_or_default().to_os_string();
        name.push(".new");
        path.with_file_name(name)
    };
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut out = options.open(&tmp).map_err(io)?;
    out.write_all(HEADER.as_bytes()).map_err(io)?;
    out.write_all(body.as_bytes()).map_err(io)?;
    out.sync_all().map_err(io)?;
    drop(out);
    std::fs::rename(&tmp, path).map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(role: Role) -> Grant {
        match role {
            Role::Switch => Grant::new(role, vec!["sbc-1".into()], vec![]),
            Role::Desk => Grant::new(role, vec![], vec!["a-1".into()]),
            _ => Grant::new(role, vec![], vec![]),
        }
        .unwrap()
    }

    #[test]
    fn a_new_token_is_stored_as_a_hash_and_verifies_while_others_do_not() {
        let dir = tempdir();
        let path = dir.join("tokens.toml");
        let made = create(&path, "sbc-1", &grant(Role::Switch)).unwrap();
        assert_eq!(made.token.len(), TOKEN_LEN);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            !text.contains(&made.token[PREFIX.len() + ID_HEX + 1..]),
            "{text}"
        );
        assert!(text.contains(&hex(&hash(&made.token))));
        let table = TokenTable::load(&path).unwrap();
        let who = table.verify(&made.token).unwrap();
        assert_eq!(&*who.name, "sbc-1");
        assert_eq!(who.grant.role, Role::Switch);

        let mut wrong = made.token.clone();
        wrong.pop();
        wrong.push(if made.token.ends_with('0') { '1' } else { '0' });
        assert!(table.verify(&wrong).is_none());
        assert!(table.verify("").is_none());
        assert!(table.verify(&made.token[..TOKEN_LEN - 1]).is_none());
        assert!(table.verify(&format!("{}x", made.token)).is_none());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn tokens_accumulate_and_a_name_is_used_once() {
        let dir = tempdir();
        let path = dir.join("tokens.toml");
        let a = create(&path, "desk-1", &grant(Role::Desk)).unwrap();
        let b = create(&path, "ops", &grant(Role::Admin)).unwrap();
        let again = create(&path, "ops", &grant(Role::Admin)).unwrap_err();
        assert!(
            again.to_string().contains("a token named \"ops\" exists"),
            "{again}"
        );
        let bad = create(&path, "has space", &grant(Role::Admin)).unwrap_err();
        assert!(bad.to_string().contains("--name"), "{bad}");
        let table = TokenTable::load(&path).unwrap();
        assert_eq!(table.len(), 2);
        assert_eq!(table.verify(&a.token).unwrap().grant.role, Role::Desk);
        assert_eq!(table.verify(&b.token).unwrap().grant.role, Role::Admin);
        let listed = list(&path).unwrap();
        assert_eq!(listed.len(), 2);
        assert_eq!(
            (
                listed[0].name.as_str(),
                listed[0].role.as_str(),
                listed[0].bound.as_str()
            ),
            ("desk-1", "desk", "agents a-1")
        );
    }

    #[test]
    fn a_revoked_token_no_longer_verifies_and_the_others_still_do() {
        let dir = tempdir();
        let path = dir.join("tokens.toml");
        let a = create(&path, "desk-1", &grant(Role::Desk)).unwrap();
        let b = create(&path, "ops", &grant(Role::Admin)).unwrap();
        assert!(revoke(&path, "desk-1").unwrap());
        assert!(!revoke(&path, "desk-1").unwrap());
        assert!(revoke(&path, &b.id).unwrap());
        let table = TokenTable::load(&path).unwrap();
        assert!(table.verify(&a.token).is_none() && table.verify(&b.token).is_none());
    }

    #[test]
    fn a_broken_tokens_file_is_refused_naming_the_entry() {
        let dir = tempdir();
        let path = dir.join("tokens.toml");
        std::fs::write(
            &path,
            "[[tokens]]\nid = \"0123456789abcdef\"\nname = \"x\"\nrole = \"boss\"\nsha256 = \"00\"\ncreated = \"\"\n",
        )
        .unwrap();
        let e = TokenTable::load(&path).unwrap_err().to_string();
        assert!(
            e.contains("tokens[0] (\"x\"): \"boss\" is not a role"),
            "{e}"
        );
        std::fs::write(&path, "tokens = 3").unwrap();
        assert!(TokenTable::load(&path).is_err());
        assert_eq!(TokenTable::load(&dir.join("none.toml")).unwrap().len(), 0);
    }

    #[test]
    fn the_creation_time_is_a_utc_timestamp_to_the_second() {
        let now = now_utc();
        assert_eq!(now.len(), 20, "{now}");
        assert!(now.starts_with("20") && now.ends_with('Z'), "{now}");
    }

    fn tempdir() -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "sb-tokens-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }
}
