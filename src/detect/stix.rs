//! STIX 2.1 indicator bundles: loading, and matching against the timeline.
//!
//! Indicators name their malware through `relationship` objects (`indicates`) or a
//! `report`'s `object_refs`, as MVT's and Amnesty's bundles do. Only single-value
//! comparisons (`[type:path = 'value']`, possibly joined by OR) can be matched against one
//! row; anything else is counted as skipped in run.json, never silently dropped.
//!
//! Where each kind is looked for (see docs/DETECTIONS.md):
//! - domains and IPv4 addresses: hosts of URLs in `target` and `message`, on the host and
//!   every parent down to the registrable domain (Public Suffix List);
//! - URLs: exactly, and without query or fragment;
//! - process names: the basename of `actor` in process sources (and a crash's path), and
//!   16-character truncations, since DataUsage truncates daemon names;
//! - emails: sms handles and IDStatusCache identities, `mailto:` stripped;
//! - file paths: `actor`/`target` paths by path prefix (`/var` = `/private/var`);
//!   file names: the last component of file targets and client paths;
//! - configuration profile and app ids: `actor`/`target` equal to the id;
//! - hashes: `sha256:`/`sha1:`/`md5:` row tags and the SHA-256 of every evidence file read.

use std::borrow::Cow;
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use regex::Regex;
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::baseline::{identity, is_process_source, process_name};
use super::columns::Columns;
use crate::evidence::InputRecord;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum IocKind {
    Domain,
    Url,
    Process,
    Email,
    FileName,
    FilePath,
    Profile,
    App,
    Ipv4,
    Sha256,
    Sha1,
    Md5,
}

impl IocKind {
    /// The STIX object path, as the `type` of an [`super::IocMatch`].
    pub fn stix(self) -> &'static str {
        match self {
            IocKind::Domain => "domain-name:value",
            IocKind::Url => "url:value",
            IocKind::Process => "process:name",
            IocKind::Email => "email-addr:value",
            IocKind::FileName => "file:name",
            IocKind::FilePath => "file:path",
            IocKind::Profile => "configuration-profile:id",
            IocKind::App => "app:id",
            IocKind::Ipv4 => "ipv4-addr:value",
            IocKind::Sha256 => "file:hashes.sha256",
            IocKind::Sha1 => "file:hashes.sha1",
            IocKind::Md5 => "file:hashes.md5",
        }
    }

    fn from_path(path: &str) -> Option<Self> {
        let p = path.to_ascii_lowercase().replace(['\'', '"'], "");
        Some(match p.as_str() {
            "domain-name:value" => IocKind::Domain,
            "url:value" => IocKind::Url,
            "process:name" => IocKind::Process,
            "email-addr:value" => IocKind::Email,
            "file:name" => IocKind::FileName,
            "file:path" => IocKind::FilePath,
            "configuration-profile:id" => IocKind::Profile,
            "app:id" => IocKind::App,
            "ipv4-addr:value" => IocKind::Ipv4,
            "file:hashes.sha256" | "file:hashes.sha-256" => IocKind::Sha256,
            "file:hashes.sha1" | "file:hashes.sha-1" => IocKind::Sha1,
            "file:hashes.md5" => IocKind::Md5,
            _ => return None,
        })
    }

    /// The one spelling matching uses for this kind of value.
    fn normalise(self, v: &str) -> String {
        let v = v.trim();
        match self {
            IocKind::Domain => v
                .trim_start_matches("*.")
                .trim_end_matches('.')
                .to_lowercase(),
            IocKind::Email => identity(v),
            IocKind::Url => normalise_url(v),
            IocKind::FilePath => normalise_path(v).into_owned(),
            IocKind::Profile
            | IocKind::App
            | IocKind::Sha256
            | IocKind::Sha1
            | IocKind::Md5
            | IocKind::Ipv4 => v.to_lowercase(),
            IocKind::Process | IocKind::FileName => v.to_string(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Indicator {
    pub kind: IocKind,
    /// As written in the bundle.
    pub value: String,
    pub malware: String,
    /// The bundle's file name.
    pub file: String,
}

/// What run.json says about one indicator file.
#[derive(Debug, Clone, Default, Serialize)]
pub struct IocFileReport {
    pub path: String,
    pub sha256: String,
    pub indicators: usize,
    pub malware: Vec<String>,
    /// Indicators whose pattern chainline cannot match against single rows.
    #[serde(skip_serializing_if = "is_zero")]
    pub skipped: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// One indicator that matched one row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IocHit {
    pub row: u32,
    pub indicator: usize,
}

#[derive(Debug, Default)]
pub struct IocSet {
    pub indicators: Vec<Indicator>,
    pub files: Vec<IocFileReport>,
    index: HashMap<IocKind, HashMap<String, Vec<usize>>>,
    /// First 16 characters of process names longer than 16.
    truncated: HashMap<String, Vec<usize>>,
    /// Which kinds the set holds, by `IocKind as usize`.
    kinds: [bool; 12],
}

fn normalise_url(v: &str) -> String {
    let v = v.trim();
    match v.split_once("://") {
        Some((scheme, rest)) => {
            let (host, path) = rest.split_at(rest.find(['/', '?', '#']).unwrap_or(rest.len()));
            let path = path.trim_end_matches('/');
            format!(
                "{}://{}{}",
                scheme.to_lowercase(),
                host.to_lowercase(),
                path
            )
        }
        None => v.trim_end_matches('/').to_string(),
    }
}

/// `/var/x`, `private/var/x/` and `/private/var/x` are one path: `private/var/x`.
fn normalise_path(v: &str) -> Cow<'_, str> {
    let v = v.trim().trim_start_matches('/').trim_end_matches('/');
    if v.starts_with("var/") || v == "var" {
        Cow::Owned(format!("private/{v}"))
    } else {
        Cow::Borrowed(v)
    }
}

/// Lower case, allocating only when there is something to change.
fn lower(v: &str) -> Cow<'_, str> {
    if v.bytes().any(|b| b.is_ascii_uppercase()) || !v.is_ascii() {
        Cow::Owned(v.to_lowercase())
    } else {
        Cow::Borrowed(v)
    }
}

const PROCESS_TRUNCATION: usize = 16;

/// The comparisons of a pattern, or `None` when it cannot be matched row by row.
fn parse_pattern(pattern: &str, re: &Regex) -> Option<Vec<(IocKind, String)>> {
    let mut out = Vec::new();
    let mut rest = String::new();
    let mut last = 0;
    for c in re.captures_iter(pattern) {
        let m = c.get(0)?;
        rest.push_str(&pattern[last..m.start()]);
        last = m.end();
        let kind = IocKind::from_path(c.get(1)?.as_str())?;
        let raw = c.get(2)?.as_str().replace("\\'", "'").replace("\\\\", "\\");
        out.push((kind, raw));
    }
    rest.push_str(&pattern[last..]);
    // Whatever is left must be brackets and ORs: an AND needs several rows at once.
    let glue = rest.replace(['[', ']'], " ");
    if out.is_empty()
        || !glue
            .split_whitespace()
            .all(|w| w.eq_ignore_ascii_case("or"))
    {
        return None;
    }
    Some(out)
}

fn comparison_regex() -> Regex {
    // `path = 'value'` with STIX escapes inside the quotes.
    Regex::new(r"([A-Za-z0-9_-]+:[A-Za-z0-9_.'-]+)\s*=\s*'((?:[^'\\]|\\.)*)'")
        .unwrap_or_else(|_| unreachable!())
}

/// Indicators and malware names of one bundle: `(indicators, malware, skipped)`.
fn parse_bundle(
    bytes: &[u8],
    file: &str,
    re: &Regex,
) -> Result<(Vec<Indicator>, Vec<String>, usize), String> {
    let doc: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| format!("not JSON: {e}"))?;
    let objects = doc
        .get("objects")
        .and_then(|o| o.as_array())
        .or_else(|| doc.as_array())
        .ok_or("no `objects` array: not a STIX 2 bundle")?;
    let str_of =
        |o: &serde_json::Value, k: &str| o.get(k).and_then(|v| v.as_str()).map(str::to_string);
    let mut malware: HashMap<String, String> = HashMap::new();
    for o in objects {
        if str_of(o, "type").as_deref() == Some("malware") {
            if let (Some(id), Some(name)) = (str_of(o, "id"), str_of(o, "name")) {
                malware.insert(id, name);
            }
        }
    }
    let mut names_of: HashMap<String, Vec<String>> = HashMap::new();
    let mut link = |ind: String, name: String| {
        let v = names_of.entry(ind).or_default();
        if !v.contains(&name) {
            v.push(name);
        }
    };
    for o in objects {
        match str_of(o, "type").as_deref() {
            Some("relationship") => {
                let (Some(src), Some(dst)) = (str_of(o, "source_ref"), str_of(o, "target_ref"))
                else {
                    continue;
                };
                if let Some(name) = malware.get(&dst) {
                    link(src, name.clone());
                } else if let Some(name) = malware.get(&src) {
                    link(dst, name.clone());
                }
            }
            Some("report") => {
                let refs: Vec<String> = o
                    .get("object_refs")
                    .and_then(|r| r.as_array())
                    .map(|a| {
                        a.iter()
                            .filter_map(|x| x.as_str().map(str::to_string))
                            .collect()
                    })
                    .unwrap_or_default();
                let mut named: Vec<String> = refs
                    .iter()
                    .filter_map(|r| malware.get(r).cloned())
                    .collect();
                if named.is_empty() {
                    named.extend(str_of(o, "name"));
                }
                for r in refs.iter().filter(|r| r.starts_with("indicator--")) {
                    for n in &named {
                        link(r.clone(), n.clone());
                    }
                }
            }
            _ => {}
        }
    }
    let fallback = {
        let mut all: Vec<&String> = malware.values().collect();
        all.sort();
        all.dedup();
        match all.as_slice() {
            [one] => (*one).clone(),
            _ => Path::new(file)
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| file.to_string()),
        }
    };
    let mut out = Vec::new();
    let mut skipped = 0;
    let mut names = BTreeSet::new();
    for o in objects {
        if str_of(o, "type").as_deref() != Some("indicator") {
            continue;
        }
        if let Some(pt) = str_of(o, "pattern_type") {
            if pt != "stix" {
                skipped += 1;
                continue;
            }
        }
        let Some(parsed) = str_of(o, "pattern").and_then(|p| parse_pattern(&p, re)) else {
            skipped += 1;
            continue;
        };
        let id = str_of(o, "id").unwrap_or_default();
        let owners = names_of
            .get(&id)
            .cloned()
            .unwrap_or_else(|| vec![fallback.clone()]);
        for (kind, value) in parsed {
            for m in &owners {
                names.insert(m.clone());
                out.push(Indicator {
                    kind,
                    value: value.clone(),
                    malware: m.clone(),
                    file: file.to_string(),
                });
            }
        }
    }
    Ok((out, names.into_iter().collect(), skipped))
}

/// Reads bundles from bytes as [`IocSet::load`] reads each file: for tests and the
/// fuzz targets, which have bytes and no file.
pub struct BundleReader(Regex);

impl Default for BundleReader {
    fn default() -> Self {
        BundleReader(comparison_regex())
    }
}

impl BundleReader {
    /// `(indicators, malware names, skipped patterns)` of one bundle; `file` names it.
    pub fn read(
        &self,
        bytes: &[u8],
        file: &str,
    ) -> Result<(Vec<Indicator>, Vec<String>, usize), String> {
        parse_bundle(bytes, file, &self.0)
    }
}

/// Files named by `--iocs`: a file as given, a folder's `*.stix2`/`*.json` files.
fn expand(paths: &[PathBuf]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut found: Vec<PathBuf> = walkdir::WalkDir::new(p)
                .max_depth(4)
                .into_iter()
                .filter_map(Result::ok)
                .filter(|e| e.file_type().is_file())
                .map(|e| e.into_path())
                .filter(|f| {
                    matches!(
                        f.extension().and_then(|x| x.to_str()),
                        Some("stix2" | "stix" | "json")
                    )
                })
                .collect();
            found.sort();
            out.extend(found);
        } else {
            out.push(p.clone());
        }
    }
    out
}

impl IocSet {
    /// Loads every bundle; a file that cannot be read or parsed is reported with an
    /// `error` and contributes nothing, so the analysis goes on.
    pub fn load(paths: &[PathBuf]) -> Self {
        let re = comparison_regex();
        let mut set = IocSet::default();
        for path in expand(paths) {
            let mut report = IocFileReport {
                path: path.display().to_string(),
                ..Default::default()
            };
            let file = path
                .file_name()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| report.path.clone());
            match std::fs::read(&path) {
                Err(e) => report.error = Some(format!("cannot read: {e}")),
                Ok(bytes) => {
                    report.sha256 = hex::encode(Sha256::digest(&bytes));
                    match parse_bundle(&bytes, &file, &re) {
                        Err(e) => report.error = Some(e),
                        Ok((inds, malware, skipped)) => {
                            report.indicators = inds.len();
                            report.malware = malware;
                            report.skipped = skipped;
                            set.indicators.extend(inds);
                        }
                    }
                }
            }
            set.files.push(report);
        }
        set.reindex();
        set
    }

    /// A set built in code (tests, or indicators from elsewhere).
    pub fn from_indicators(indicators: Vec<Indicator>) -> Self {
        let mut set = IocSet {
            indicators,
            ..Default::default()
        };
        set.reindex();
        set
    }

    fn reindex(&mut self) {
        self.index.clear();
        self.truncated.clear();
        self.kinds = [false; 12];
        for (i, ind) in self.indicators.iter().enumerate() {
            let v = ind.kind.normalise(&ind.value);
            if ind.kind == IocKind::Process && v.chars().count() > PROCESS_TRUNCATION {
                let t: String = v.chars().take(PROCESS_TRUNCATION).collect();
                self.truncated.entry(t).or_default().push(i);
            }
            self.index
                .entry(ind.kind)
                .or_default()
                .entry(v)
                .or_default()
                .push(i);
            self.kinds[ind.kind as usize] = true;
        }
    }

    fn has(&self, k: IocKind) -> bool {
        self.kinds[k as usize]
    }

    pub fn is_empty(&self) -> bool {
        self.indicators.is_empty()
    }

    /// Distinct malware names, in order.
    pub fn malware(&self) -> Vec<String> {
        let s: BTreeSet<&str> = self.indicators.iter().map(|i| i.malware.as_str()).collect();
        s.into_iter().map(str::to_string).collect()
    }

    fn lookup(&self, kind: IocKind, v: &str, out: &mut Vec<usize>) {
        if let Some(ids) = self.index.get(&kind).and_then(|m| m.get(v)) {
            out.extend(ids);
        }
    }

    fn host(&self, host: &str, out: &mut Vec<usize>) {
        let host = host.trim_end_matches('.').to_lowercase();
        if host.is_empty() {
            return;
        }
        if self.has(IocKind::Ipv4) {
            self.lookup(IocKind::Ipv4, &host, out);
        }
        if !self.has(IocKind::Domain) {
            return;
        }
        // The host, then each parent down to the registrable domain.
        let registrable = psl::domain_str(&host).unwrap_or(&host).to_string();
        let mut h = host.as_str();
        loop {
            self.lookup(IocKind::Domain, h, out);
            if h.len() <= registrable.len() {
                break;
            }
            match h.split_once('.') {
                Some((_, parent)) => h = parent,
                None => break,
            }
        }
    }

    fn process(&self, name: &str, out: &mut Vec<usize>) {
        if name.is_empty() || !self.has(IocKind::Process) {
            return;
        }
        self.lookup(IocKind::Process, name, out);
        if name.chars().count() == PROCESS_TRUNCATION {
            if let Some(ids) = self.truncated.get(name) {
                out.extend(ids);
            }
        }
    }

    fn path(&self, p: &str, out: &mut Vec<usize>) {
        let norm = normalise_path(p);
        let mut end = 0;
        // Every component prefix: an indicator folder matches everything below it.
        for (i, c) in norm
            .char_indices()
            .chain(std::iter::once((norm.len(), '/')))
        {
            if c == '/' && i > end {
                self.lookup(IocKind::FilePath, &norm[..i], out);
                end = i;
            }
        }
    }

    /// Every (row, indicator) pair that matches, in row order.
    pub(crate) fn match_rows(&self, cols: &Columns, inputs: &[InputRecord]) -> Vec<IocHit> {
        let mut hits = Vec::new();
        if self.is_empty() {
            return hits;
        }
        let wants_url =
            self.has(IocKind::Domain) || self.has(IocKind::Url) || self.has(IocKind::Ipv4);
        let wants_ids =
            self.has(IocKind::Profile) || self.has(IocKind::App) || self.has(IocKind::Ipv4);
        let wants_files = self.has(IocKind::FileName) || self.has(IocKind::FilePath);
        let mut found = Vec::new();
        let rows = cols
            .source
            .iter()
            .zip(cols.kind.iter())
            .zip(cols.actor.iter())
            .zip(cols.target.iter())
            .zip(cols.message.iter());
        for (i, ((((s, k), a), t), m)) in rows.enumerate() {
            let (s, k, a, t, m) = (
                s.unwrap_or(""),
                k.unwrap_or(""),
                a.unwrap_or(""),
                t.unwrap_or(""),
                m.unwrap_or(""),
            );
            found.clear();
            if wants_url {
                for text in [t, m] {
                    if text.contains("://") {
                        for url in urls(text) {
                            if self.has(IocKind::Url) {
                                let n = normalise_url(url);
                                self.lookup(IocKind::Url, &n, &mut found);
                                if let Some(base) = n.split(['?', '#']).next().filter(|b| *b != n) {
                                    self.lookup(
                                        IocKind::Url,
                                        base.trim_end_matches('/'),
                                        &mut found,
                                    );
                                }
                            }
                            if let Some(h) = url_host(url) {
                                self.host(h, &mut found);
                            }
                        }
                    }
                }
            }
            // Rows whose target is a bare host name, not a URL (the App Privacy
            // Report's contacted domains).
            if names_host(s, k) {
                self.host(t, &mut found);
            }
            if is_process_source(s) {
                self.process(process_name(a), &mut found);
                if s == "crash" {
                    self.process(process_name(t), &mut found);
                }
            }
            if self.has(IocKind::Email) {
                let candidates: &[&str] = if s == "sms" || s == "idstatus" {
                    &[a, t]
                } else {
                    &[]
                };
                for v in candidates
                    .iter()
                    .chain([a, t].iter().filter(|v| v.starts_with("mailto:")))
                {
                    if v.contains('@') {
                        self.lookup(IocKind::Email, &identity(v), &mut found);
                    }
                }
            }
            if wants_files {
                for v in [a, t] {
                    if v.starts_with('/') || v.starts_with("private/") {
                        self.path(v, &mut found);
                    }
                }
                if self.has(IocKind::FileName) {
                    let named = match s {
                        "manifest" | "sms" | "crash" => Some(t),
                        "shutdown" => Some(a),
                        _ => None,
                    };
                    if let Some(v) = named
                        .map(|v| v.rsplit('/').next().unwrap_or(v))
                        .filter(|v| !v.is_empty())
                    {
                        self.lookup(IocKind::FileName, v, &mut found);
                    }
                }
            }
            if wants_ids {
                for v in [a, t] {
                    // Only values shaped like the indicator can match: a profile id is a
                    // UUID, an app id a dotted bundle id, an address four numbers.
                    if self.has(IocKind::Profile) && v.len() == 36 {
                        self.lookup(IocKind::Profile, &lower(v), &mut found);
                    }
                    if self.has(IocKind::App) && v.contains('.') && !v.contains(['/', ' ']) {
                        self.lookup(IocKind::App, &lower(v), &mut found);
                    }
                    if self.has(IocKind::Ipv4)
                        && !v.is_empty()
                        && v.bytes().all(|b| b.is_ascii_digit() || b == b'.')
                    {
                        self.lookup(IocKind::Ipv4, v, &mut found);
                    }
                }
            }
            found.sort_unstable();
            found.dedup();
            hits.extend(found.iter().map(|&ind| IocHit {
                row: i as u32,
                indicator: ind,
            }));
        }
        self.match_hashes(cols, inputs, &mut hits);
        hits.sort_by_key(|h| (h.row, h.indicator));
        hits.dedup();
        hits
    }

    fn match_hashes(&self, cols: &Columns, inputs: &[InputRecord], hits: &mut Vec<IocHit>) {
        let kinds = [
            ("sha256:", IocKind::Sha256),
            ("sha1:", IocKind::Sha1),
            ("md5:", IocKind::Md5),
        ];
        if !kinds.iter().any(|(_, k)| self.has(*k)) {
            return;
        }
        let mut found = Vec::new();
        for (tag, rows) in cols.tags.tags() {
            for (prefix, kind) in kinds {
                if let Some(h) = tag.strip_prefix(prefix) {
                    found.clear();
                    self.lookup(kind, &h.to_lowercase(), &mut found);
                    for &ind in &found {
                        hits.extend(rows.iter().map(|&row| IocHit {
                            row,
                            indicator: ind,
                        }));
                    }
                }
            }
        }
        // An evidence file whose own hash is an indicator: every row read from it.
        let mut by_artifact: HashMap<&str, Vec<usize>> = HashMap::new();
        for r in inputs {
            found.clear();
            self.lookup(IocKind::Sha256, &r.sha256.to_lowercase(), &mut found);
            // A file of an encrypted backup: its decrypted content is what indicators name.
            if let Some(p) = &r.plaintext {
                self.lookup(IocKind::Sha256, &p.sha256.to_lowercase(), &mut found);
            }
            if !found.is_empty() {
                by_artifact
                    .entry(r.logical.as_str())
                    .or_default()
                    .extend(found.iter().copied());
            }
        }
        if by_artifact.is_empty() {
            return;
        }
        for (i, a) in cols.artifact.iter().enumerate() {
            if let Some(ids) = a.and_then(|a| by_artifact.get(a)) {
                hits.extend(ids.iter().map(|&ind| IocHit {
                    row: i as u32,
                    indicator: ind,
                }));
            }
        }
    }
}

/// Sources and kinds whose `target` is a host name (domain or address) as written.
fn names_host(source: &str, kind: &str) -> bool {
    source == "app_privacy" && kind == "network_activity"
}

/// URLs inside free text: `scheme://` up to whitespace or a quote.
fn urls(text: &str) -> impl Iterator<Item = &str> {
    text.match_indices("://").filter_map(move |(i, _)| {
        let start = text[..i]
            .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '+' || c == '.' || c == '-'))
            .map_or(0, |j| j + 1);
        if start == i {
            return None;
        }
        let end = text[i..]
            .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '<' | '>' | ')' | ']'))
            .map_or(text.len(), |j| i + j);
        // Sentence punctuation after a link is not part of it.
        Some(text[start..end].trim_end_matches(['.', ',', ';', ':', '!', '?']))
    })
}

fn url_host(url: &str) -> Option<&str> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split(['/', '?', '#']).next()?;
    let host = authority.rsplit('@').next()?;
    let host = if host.starts_with('[') {
        host
    } else {
        host.split(':').next()?
    };
    (!host.is_empty()).then_some(host)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns() {
        let re = comparison_regex();
        assert_eq!(
            parse_pattern("[domain-name:value='backuprabbit.com']", &re),
            Some(vec![(IocKind::Domain, "backuprabbit.com".into())])
        );
        assert_eq!(
            parse_pattern("[process:name = 'BackupAgent']", &re),
            Some(vec![(IocKind::Process, "BackupAgent".into())])
        );
        assert_eq!(
            parse_pattern(
                "[file:hashes.'SHA-256' = 'AB'] OR [url:value = 'https://x.org/a\\'b']",
                &re
            ),
            Some(vec![
                (IocKind::Sha256, "AB".into()),
                (IocKind::Url, "https://x.org/a'b".into())
            ])
        );
        assert_eq!(
            parse_pattern("[file:name = 'a' AND file:size = '3']", &re),
            None
        );
        assert_eq!(parse_pattern("[x-custom:thing = 'a']", &re), None);
    }

    #[test]
    fn url_parts() {
        let text = "Please click here https://a.b.Example.org/x?y=1, or http://10.0.0.1:8080/z";
        let found: Vec<&str> = urls(text).collect();
        assert_eq!(
            found,
            ["https://a.b.Example.org/x?y=1", "http://10.0.0.1:8080/z"]
        );
        assert_eq!(url_host(found[0]), Some("a.b.Example.org"));
        assert_eq!(url_host(found[1]), Some("10.0.0.1"));
        assert_eq!(normalise_url("HTTPS://X.org/a/"), "https://x.org/a");
        assert_eq!(normalise_path("/var/tmp/l/"), "private/var/tmp/l");
    }

    #[test]
    fn bundle_links_indicators_to_malware_by_relationship_and_report() {
        let bundle = serde_json::json!({"type": "bundle", "objects": [
            {"type": "malware", "id": "malware--1", "name": "Alpha"},
            {"type": "indicator", "id": "indicator--1", "pattern": "[domain-name:value='a.org']", "pattern_type": "stix"},
            {"type": "indicator", "id": "indicator--2", "pattern": "[process:name='bh']", "pattern_type": "stix"},
            {"type": "indicator", "id": "indicator--3", "pattern": "[x:y='z']", "pattern_type": "stix"},
            {"type": "relationship", "id": "relationship--1", "relationship_type": "indicates", "source_ref": "indicator--1", "target_ref": "malware--1"},
            {"type": "report", "id": "report--1", "name": "Beta campaign", "object_refs": ["indicator--2"]}
        ]});
        let (inds, names, skipped) = parse_bundle(
            bundle.to_string().as_bytes(),
            "x.stix2",
            &comparison_regex(),
        )
        .unwrap();
        assert_eq!(skipped, 1);
        assert_eq!(names, ["Alpha", "Beta campaign"]);
        assert_eq!(inds.len(), 2);
        assert_eq!(
            (inds[0].malware.as_str(), inds[1].malware.as_str()),
            ("Alpha", "Beta campaign")
        );
    }

    #[test]
    fn unreadable_and_malformed_files_are_reported_not_fatal() {
        let dir = tempfile::tempdir().unwrap();
        let bad = dir.path().join("bad.stix2");
        std::fs::write(&bad, "{ not json").unwrap();
        let set = IocSet::load(&[bad, dir.path().join("absent.stix2")]);
        assert!(set.is_empty());
        assert_eq!(set.files.len(), 2);
        assert!(set.files[0]
            .error
            .as_deref()
            .unwrap()
            .starts_with("not JSON"));
        assert!(set.files[1]
            .error
            .as_deref()
            .unwrap()
            .starts_with("cannot read"));
    }
}
