//! Chain rules as data: the TOML model in `rules/*.toml`, its validation, and the
//! compiled selectors the engine evaluates.
//!
//! A rule names one or more trigger selectors, follow-up selectors (each with a class and
//! a weight), optional veto selectors, the window after the trigger, the minimum number of
//! distinct classes, how the score maps to a severity, and the public write-ups it comes
//! from. See docs/DETECTIONS.md for the format with examples.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use regex::Regex;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::findings::Severity;

/// The shipped rules, embedded so the binary needs no data folder.
pub const BUILTIN: &[(&str, &str)] = &[
    (
        "rules/triangulation_exact.toml",
        include_str!("../../rules/triangulation_exact.toml"),
    ),
    (
        "rules/triangulation_heuristic.toml",
        include_str!("../../rules/triangulation_heuristic.toml"),
    ),
    (
        "rules/forcedentry.toml",
        include_str!("../../rules/forcedentry.toml"),
    ),
    (
        "rules/disguised_attachment.toml",
        include_str!("../../rules/disguised_attachment.toml"),
    ),
    (
        "rules/lookup_new_process.toml",
        include_str!("../../rules/lookup_new_process.toml"),
    ),
    (
        "rules/shutdown_anomalies.toml",
        include_str!("../../rules/shutdown_anomalies.toml"),
    ),
    (
        "rules/datausage_tampering.toml",
        include_str!("../../rules/datausage_tampering.toml"),
    ),
    (
        "rules/message_deletion.toml",
        include_str!("../../rules/message_deletion.toml"),
    ),
    (
        "rules/powerlog_new_process.toml",
        include_str!("../../rules/powerlog_new_process.toml"),
    ),
    (
        "rules/staged_process.toml",
        include_str!("../../rules/staged_process.toml"),
    ),
    (
        "rules/unifiedlog_chain.toml",
        include_str!("../../rules/unifiedlog_chain.toml"),
    ),
    (
        "rules/homekit_findmy_entry.toml",
        include_str!("../../rules/homekit_findmy_entry.toml"),
    ),
    (
        "rules/attachment_exploit.toml",
        include_str!("../../rules/attachment_exploit.toml"),
    ),
    (
        "rules/blastpass.toml",
        include_str!("../../rules/blastpass.toml"),
    ),
];

pub const DEFAULT_WINDOW_S: u64 = 300;

#[derive(Debug, Error)]
#[error("rule file {file}: {msg}")]
pub struct RuleError {
    pub file: String,
    pub msg: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reference {
    pub title: String,
    pub url: String,
}

/// A compiled rule.
#[derive(Debug, Clone)]
pub struct Rule {
    pub id: String,
    pub title: String,
    pub summary: String,
    pub window_s: u64,
    pub min_classes: usize,
    /// Groups of selector names: every group needs one of its selectors present.
    pub require: Vec<Vec<String>>,
    pub severity: SeverityMap,
    pub references: Vec<Reference>,
    /// Why the weights are what they are (prose, from the rule file).
    pub weights: String,
    pub false_positives: Vec<String>,
    pub triggers: Vec<Selector>,
    pub follow_ups: Vec<Selector>,
    /// A veto row inside a trigger's window disqualifies that trigger.
    pub vetoes: Vec<Selector>,
    /// Campaign names a finding's title may carry, each with the selectors whose rows
    /// support it: the title follows the evidence that fired, not the rule's name.
    pub families: Vec<Family>,
    /// `builtin:rules/x.toml` or the path of the file given with `--rules`.
    pub origin: String,
}

/// A campaign a chain may be attributed to in its title, when one of `any` fired.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Family {
    pub name: String,
    pub any: Vec<String>,
}

impl Rule {
    /// The title of a finding whose chain holds rows of these selectors: the rule's
    /// title with the first family the evidence supports, e.g. "… (Operation
    /// Triangulation-like)"; without one, the bare title.
    pub fn title_for<'a>(&self, fired: impl Iterator<Item = &'a str> + Clone) -> String {
        for f in &self.families {
            if fired.clone().any(|n| f.any.iter().any(|a| a == n)) {
                return format!("{} ({})", self.title, f.name);
            }
        }
        self.title.clone()
    }
}

impl Rule {
    /// The object run.json records for this rule.
    pub fn log_entry(&self) -> serde_json::Value {
        serde_json::json!({
            "id": self.id,
            "title": self.title,
            "window_s": self.window_s,
            "min_classes": self.min_classes,
            "source": self.origin,
        })
    }

    /// True when the trigger alone makes a finding (no follow-up needed).
    pub fn single_event(&self) -> bool {
        self.follow_ups.is_empty()
            && self.min_classes <= 1
            && self
                .require
                .iter()
                .all(|g| g.iter().any(|n| self.triggers.iter().any(|t| &t.name == n)))
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum SeverityMap {
    Fixed(Severity),
    /// Lowest score for each level; below all of them the finding is `info`.
    Thresholds {
        critical: Option<f64>,
        high: Option<f64>,
        medium: Option<f64>,
        low: f64,
    },
}

impl SeverityMap {
    pub fn of(&self, score: f64) -> Severity {
        match self {
            SeverityMap::Fixed(s) => *s,
            SeverityMap::Thresholds {
                critical,
                high,
                medium,
                low,
            } => {
                let at_least = |t: &Option<f64>| t.is_some_and(|t| score >= t);
                if at_least(critical) {
                    Severity::Critical
                } else if at_least(high) {
                    Severity::High
                } else if at_least(medium) {
                    Severity::Medium
                } else if score >= *low {
                    Severity::Low
                } else {
                    Severity::Info
                }
            }
        }
    }
}

/// A compiled selector: predicates plus what a match means in a chain.
#[derive(Debug, Clone)]
pub struct Selector {
    pub name: String,
    /// Prose for the explanation, with placeholders (see explain.rs).
    pub text: String,
    /// How later sentences refer back to this row when it is the trigger ("the download").
    pub noun: String,
    pub class: String,
    pub weight: f64,
    /// Overrides the rule's window for this follow-up (e.g. a crash "within seconds").
    pub within_s: Option<u64>,
    /// How far before the trigger this selector may match (vetoes, mostly).
    pub before_s: u64,
    /// The row's entity (process, sender, identity…) had not been seen before: before the
    /// trigger for a follow-up, before the row itself for a trigger.
    pub new: bool,
    /// The row's process had never used the network before (same reference time as `new`).
    pub never_networked: bool,
    /// Whether this phone's history scales the weight (rare ×1.5, routine ×0.5).
    pub rarity: bool,
    /// The row counts only when its `target` lies under the trigger row's `target`
    /// (a file inside the very attachment directory that fired). Vetoes use it so that
    /// an unrelated attachment — one an attacker can send — cannot cancel a trigger.
    pub under_trigger: bool,
    /// Scores together with this other selector (one weight for both, the larger): the
    /// same kind of evidence seen as trigger and as follow-up counts once.
    pub counts_as: Option<String>,
    pub pred: Pred,
}

/// Row predicates, all of which must hold; `any` needs one of its members, `not` none.
#[derive(Debug, Clone, Default)]
pub struct Pred {
    pub source: Option<StrMatcher>,
    pub kind: Option<StrMatcher>,
    pub actor: Option<StrMatcher>,
    pub target: Option<StrMatcher>,
    pub message: Option<StrMatcher>,
    pub tags: Option<TagMatcher>,
    /// bytes_in + bytes_out at least this much.
    pub min_bytes: Option<i64>,
    pub any: Vec<Pred>,
    pub not: Option<Box<Pred>>,
}

impl Pred {
    fn is_empty(&self) -> bool {
        self.source.is_none()
            && self.kind.is_none()
            && self.actor.is_none()
            && self.target.is_none()
            && self.message.is_none()
            && self.tags.is_none()
            && self.min_bytes.is_none()
            && self.any.is_empty()
            && self.not.is_none()
    }
}

/// A string test: every part must pass; each part passes when any of its values does.
#[derive(Debug, Clone)]
pub struct StrMatcher {
    parts: Vec<StrTest>,
    ignore_case: bool,
}

#[derive(Debug, Clone)]
enum StrTest {
    Equals(Vec<String>),
    Prefix(Vec<String>),
    Suffix(Vec<String>),
    Contains(Vec<String>),
    Regex(Vec<Regex>),
    Not(Box<StrMatcher>),
}

impl StrMatcher {
    pub fn equals(v: &str) -> Self {
        StrMatcher {
            parts: vec![StrTest::Equals(vec![v.to_string()])],
            ignore_case: false,
        }
    }

    pub fn matches(&self, s: &str) -> bool {
        let lowered;
        let s = if self.ignore_case {
            lowered = s.to_lowercase();
            lowered.as_str()
        } else {
            s
        };
        self.parts.iter().all(|p| match p {
            StrTest::Equals(v) => v.iter().any(|x| x == s),
            StrTest::Prefix(v) => v.iter().any(|x| s.starts_with(x.as_str())),
            StrTest::Suffix(v) => v.iter().any(|x| s.ends_with(x.as_str())),
            StrTest::Contains(v) => v.iter().any(|x| s.contains(x.as_str())),
            StrTest::Regex(v) => v.iter().any(|r| r.is_match(s)),
            StrTest::Not(m) => !m.matches(s),
        })
    }
}

/// A test over a row's tags.
#[derive(Debug, Clone, Default)]
pub struct TagMatcher {
    pub all: Vec<String>,
    pub any: Vec<String>,
    pub none: Vec<String>,
    /// Some tag starts with one of these.
    pub prefix: Vec<String>,
    /// Some tag matches this.
    pub regex: Option<Regex>,
}

impl TagMatcher {
    /// For one row's tags (the engine evaluates whole columns through the tag index).
    pub fn matches<S: AsRef<str>>(&self, tags: &[S]) -> bool {
        let has = |t: &str| tags.iter().any(|x| x.as_ref() == t);
        self.all.iter().all(|t| has(t))
            && (self.any.is_empty() || self.any.iter().any(|t| has(t)))
            && !self.none.iter().any(|t| has(t))
            && (self.prefix.is_empty()
                || tags.iter().any(|x| {
                    self.prefix
                        .iter()
                        .any(|p| x.as_ref().starts_with(p.as_str()))
                }))
            && self
                .regex
                .as_ref()
                .is_none_or(|r| tags.iter().any(|x| r.is_match(x.as_ref())))
    }
}

// ---------------------------------------------------------------------------------------
// The TOML model.

fn default_window() -> u64 {
    DEFAULT_WINDOW_S
}

fn default_min_classes() -> usize {
    1
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleSpec {
    id: String,
    title: String,
    #[serde(default)]
    summary: String,
    #[serde(default = "default_window")]
    window_s: u64,
    #[serde(default = "default_min_classes")]
    min_classes: usize,
    #[serde(default)]
    require: Vec<Vec<String>>,
    severity: SeveritySpec,
    #[serde(default)]
    references: Vec<Reference>,
    #[serde(default)]
    weights: String,
    #[serde(default)]
    false_positives: Vec<String>,
    #[serde(default)]
    trigger: Vec<SelectorSpec>,
    #[serde(default)]
    follow_up: Vec<SelectorSpec>,
    #[serde(default)]
    veto: Vec<SelectorSpec>,
    #[serde(default)]
    family: Vec<Family>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RulesDoc {
    rule: Vec<RuleSpec>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct SelectorSpec {
    name: Option<String>,
    text: Option<String>,
    noun: Option<String>,
    class: Option<String>,
    weight: Option<f64>,
    under_trigger: Option<bool>,
    within_s: Option<u64>,
    before_s: Option<u64>,
    new: Option<bool>,
    never_networked: Option<bool>,
    rarity: Option<bool>,
    counts_as: Option<String>,
    source: Option<StrSpec>,
    kind: Option<StrSpec>,
    actor: Option<StrSpec>,
    target: Option<StrSpec>,
    message: Option<StrSpec>,
    tags: Option<TagSpec>,
    min_bytes: Option<i64>,
    #[serde(default)]
    any: Vec<SelectorSpec>,
    not: Option<Box<SelectorSpec>>,
}

#[derive(Debug, Deserialize)]
#[serde(try_from = "toml::Value")]
struct StrSpec(StrMatcher);

#[derive(Debug, Deserialize)]
#[serde(try_from = "toml::Value")]
struct TagSpec(TagMatcher);

#[derive(Debug, Deserialize)]
#[serde(try_from = "toml::Value")]
struct SeveritySpec(SeverityMap);

fn strings(v: &toml::Value, what: &str) -> Result<Vec<String>, String> {
    match v {
        toml::Value::String(s) => Ok(vec![s.clone()]),
        toml::Value::Array(a) => a
            .iter()
            .map(|x| {
                x.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| format!("{what}: expected strings, found {x}"))
            })
            .collect(),
        other => Err(format!(
            "{what}: expected a string or a list of strings, found {other}"
        )),
    }
}

fn compile_regex(pattern: &str, ignore_case: bool) -> Result<Regex, String> {
    let p = if ignore_case {
        format!("(?i){pattern}")
    } else {
        pattern.to_string()
    };
    Regex::new(&p).map_err(|e| {
        format!(
            "bad regex {pattern:?}: {}",
            e.to_string().lines().last().unwrap_or("invalid")
        )
    })
}

pub(crate) fn str_matcher(v: &toml::Value) -> Result<StrMatcher, String> {
    match v {
        toml::Value::String(_) | toml::Value::Array(_) => Ok(StrMatcher {
            parts: vec![StrTest::Equals(strings(v, "value")?)],
            ignore_case: false,
        }),
        toml::Value::Table(t) => {
            let ignore_case = match t.get("ignore_case") {
                None => false,
                Some(toml::Value::Boolean(b)) => *b,
                Some(other) => {
                    return Err(format!(
                        "ignore_case: expected true or false, found {other}"
                    ))
                }
            };
            let fold = |v: Vec<String>| {
                if ignore_case {
                    v.into_iter().map(|s| s.to_lowercase()).collect()
                } else {
                    v
                }
            };
            let mut parts = Vec::new();
            for (k, val) in t {
                let part = match k.as_str() {
                    "ignore_case" => continue,
                    "equals" => StrTest::Equals(fold(strings(val, k)?)),
                    "prefix" => StrTest::Prefix(fold(strings(val, k)?)),
                    "suffix" => StrTest::Suffix(fold(strings(val, k)?)),
                    "contains" => StrTest::Contains(fold(strings(val, k)?)),
                    "regex" => StrTest::Regex(
                        strings(val, k)?.iter().map(|p| compile_regex(p, ignore_case)).collect::<Result<_, _>>()?,
                    ),
                    "not" => {
                        let mut inner = str_matcher(val)?;
                        inner.ignore_case |= ignore_case;
                        StrTest::Not(Box::new(inner))
                    }
                    other => {
                        return Err(format!(
                            "unknown string test `{other}` (expected equals, prefix, suffix, contains, regex, not, ignore_case)"
                        ))
                    }
                };
                parts.push(part);
            }
            if parts.is_empty() {
                return Err("empty string test".into());
            }
            Ok(StrMatcher { parts, ignore_case })
        }
        other => Err(format!(
            "expected a string, a list of strings or a table, found {other}"
        )),
    }
}

impl TryFrom<toml::Value> for StrSpec {
    type Error = String;
    fn try_from(v: toml::Value) -> Result<Self, String> {
        str_matcher(&v).map(StrSpec)
    }
}

impl TryFrom<toml::Value> for TagSpec {
    type Error = String;
    fn try_from(v: toml::Value) -> Result<Self, String> {
        let mut m = TagMatcher::default();
        match &v {
            toml::Value::String(_) | toml::Value::Array(_) => m.all = strings(&v, "tags")?,
            toml::Value::Table(t) => {
                for (k, val) in t {
                    match k.as_str() {
                        "all" => m.all = strings(val, k)?,
                        "any" => m.any = strings(val, k)?,
                        "none" => m.none = strings(val, k)?,
                        "prefix" => m.prefix = strings(val, k)?,
                        "regex" => {
                            let p = val
                                .as_str()
                                .ok_or_else(|| "tags.regex: expected a string".to_string())?;
                            m.regex = Some(compile_regex(p, false)?);
                        }
                        other => {
                            return Err(format!(
                            "unknown tag test `{other}` (expected all, any, none, prefix, regex)"
                        ))
                        }
                    }
                }
            }
            other => {
                return Err(format!(
                    "tags: expected a string, a list or a table, found {other}"
                ))
            }
        }
        Ok(TagSpec(m))
    }
}

impl TryFrom<toml::Value> for SeveritySpec {
    type Error = String;
    fn try_from(v: toml::Value) -> Result<Self, String> {
        match &v {
            toml::Value::String(s) => Severity::parse(s)
                .map(|s| SeveritySpec(SeverityMap::Fixed(s)))
                .ok_or_else(|| format!("severity: unknown level {s:?} (expected critical, high, medium, low, info)")),
            toml::Value::Table(t) => {
                let mut levels: [Option<f64>; 4] = [None; 4];
                for (k, val) in t {
                    let i = match k.as_str() {
                        "critical" => 0,
                        "high" => 1,
                        "medium" => 2,
                        "low" => 3,
                        other => return Err(format!("severity: unknown level `{other}` (expected critical, high, medium, low)")),
                    };
                    levels[i] = Some(match val {
                        toml::Value::Float(f) => *f,
                        toml::Value::Integer(n) => *n as f64,
                        other => return Err(format!("severity.{k}: expected a number, found {other}")),
                    });
                }
                let present: Vec<f64> = levels.iter().flatten().copied().collect();
                if present.windows(2).any(|w| w[0] < w[1]) {
                    return Err("severity: thresholds must not increase from critical down to low".into());
                }
                Ok(SeveritySpec(SeverityMap::Thresholds {
                    critical: levels[0],
                    high: levels[1],
                    medium: levels[2],
                    low: levels[3].unwrap_or(0.0),
                }))
            }
            other => Err(format!("severity: expected a level or a table of thresholds, found {other}")),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Compilation and validation.

fn pred_from(s: SelectorSpec, at: &str) -> Result<Pred, String> {
    let any = s
        .any
        .into_iter()
        .enumerate()
        .map(|(i, sub)| nested(sub, &format!("{at}.any[{}]", i + 1)))
        .collect::<Result<Vec<_>, _>>()?;
    let not = match s.not {
        Some(sub) => Some(Box::new(nested(*sub, &format!("{at}.not"))?)),
        None => None,
    };
    let pred = Pred {
        source: s.source.map(|x| x.0),
        kind: s.kind.map(|x| x.0),
        actor: s.actor.map(|x| x.0),
        target: s.target.map(|x| x.0),
        message: s.message.map(|x| x.0),
        tags: s.tags.map(|x| x.0),
        min_bytes: s.min_bytes,
        any,
        not,
    };
    if pred.is_empty() {
        return Err(format!("{at}: no predicate (it would match every row)"));
    }
    Ok(pred)
}

fn nested(s: SelectorSpec, at: &str) -> Result<Pred, String> {
    let meta = [
        ("name", s.name.is_some()),
        ("text", s.text.is_some()),
        ("noun", s.noun.is_some()),
        ("class", s.class.is_some()),
        ("weight", s.weight.is_some()),
        ("within_s", s.within_s.is_some()),
        ("before_s", s.before_s.is_some()),
        ("new", s.new.is_some()),
        ("never_networked", s.never_networked.is_some()),
        ("rarity", s.rarity.is_some()),
        ("counts_as", s.counts_as.is_some()),
        ("under_trigger", s.under_trigger.is_some()),
    ];
    if let Some((k, _)) = meta.iter().find(|(_, set)| *set) {
        return Err(format!(
            "{at}: `{k}` belongs on the selector, not inside any/not"
        ));
    }
    pred_from(s, at)
}

fn selector(s: SelectorSpec, role: &str, i: usize, needs_class: bool) -> Result<Selector, String> {
    let at = format!("{role}[{}]", i + 1);
    let name = s.name.clone().unwrap_or_else(|| format!("{role}{}", i + 1));
    let at = if s.name.is_some() {
        format!("{role} `{name}`")
    } else {
        at
    };
    let class = s.class.clone().unwrap_or_default();
    if needs_class && class.is_empty() {
        return Err(format!("{at}: `class` is required"));
    }
    let weight = s.weight.unwrap_or(1.0);
    if !weight.is_finite() || weight < 0.0 {
        return Err(format!("{at}: weight must be a number ≥ 0"));
    }
    let text = s.text.clone().unwrap_or_else(|| "{message}".to_string());
    let noun = s.noun.clone().unwrap_or_else(|| "the trigger".to_string());
    let (within_s, before_s, new, never_networked, rarity) = (
        s.within_s,
        s.before_s.unwrap_or(0),
        s.new.unwrap_or(false),
        s.never_networked.unwrap_or(false),
        s.rarity.unwrap_or(true),
    );
    if within_s == Some(0) {
        return Err(format!("{at}: within_s must be > 0"));
    }
    let counts_as = s.counts_as.clone();
    let under_trigger = s.under_trigger.unwrap_or(false);
    let pred = pred_from(s, &at)?;
    Ok(Selector {
        counts_as,
        under_trigger,
        name,
        text,
        noun,
        class,
        weight,
        within_s,
        before_s,
        new,
        never_networked,
        rarity,
        pred,
    })
}

fn compile(spec: RuleSpec, origin: &str) -> Result<Rule, String> {
    let id_ok = !spec.id.is_empty()
        && spec
            .id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if !id_ok {
        return Err(format!(
            "id {:?} must be lower-case letters, digits and _",
            spec.id
        ));
    }
    let at = |m: String| format!("rule {}: {m}", spec.id);
    if spec.title.trim().is_empty() {
        return Err(at("title is empty".into()));
    }
    if spec.window_s == 0 {
        return Err(at("window_s must be > 0".into()));
    }
    if spec.trigger.is_empty() {
        return Err(at("no [[trigger]] selector".into()));
    }
    let triggers = spec
        .trigger
        .into_iter()
        .enumerate()
        .map(|(i, s)| selector(s, "trigger", i, true))
        .collect::<Result<Vec<_>, _>>()
        .map_err(at)?;
    let follow_ups = spec
        .follow_up
        .into_iter()
        .enumerate()
        .map(|(i, s)| selector(s, "follow_up", i, true))
        .collect::<Result<Vec<_>, _>>()
        .map_err(at)?;
    let vetoes = spec
        .veto
        .into_iter()
        .enumerate()
        .map(|(i, s)| selector(s, "veto", i, false))
        .collect::<Result<Vec<_>, _>>()
        .map_err(at)?;
    let mut names = BTreeSet::new();
    for s in triggers.iter().chain(&follow_ups).chain(&vetoes) {
        if !names.insert(s.name.as_str()) {
            return Err(at(format!("two selectors are named `{}`", s.name)));
        }
    }
    for s in triggers.iter().chain(&follow_ups) {
        if let Some(other) = &s.counts_as {
            if other == &s.name || !triggers.iter().chain(&follow_ups).any(|x| &x.name == other) {
                return Err(at(format!(
                    "`{}` counts_as `{other}`, which is no other trigger or follow_up",
                    s.name
                )));
            }
        }
    }
    for f in &spec.family {
        if f.name.trim().is_empty() || f.any.is_empty() {
            return Err(at(
                "family: needs a name and at least one selector in `any`".into(),
            ));
        }
        for n in &f.any {
            if !triggers.iter().chain(&follow_ups).any(|s| &s.name == n) {
                return Err(at(format!(
                    "family `{}` names `{n}`, which is no trigger or follow_up",
                    f.name
                )));
            }
        }
    }
    for g in &spec.require {
        if g.is_empty() {
            return Err(at("require: empty group".into()));
        }
        for n in g {
            if !triggers.iter().chain(&follow_ups).any(|s| &s.name == n) {
                return Err(at(format!(
                    "require names `{n}`, which is no trigger or follow_up"
                )));
            }
        }
    }
    let classes: BTreeSet<&str> = triggers
        .iter()
        .chain(&follow_ups)
        .map(|s| s.class.as_str())
        .collect();
    if spec.min_classes == 0 || spec.min_classes > classes.len() {
        return Err(at(format!(
            "min_classes = {} but the selectors have {} distinct classes ({})",
            spec.min_classes,
            classes.len(),
            classes.into_iter().collect::<Vec<_>>().join(", ")
        )));
    }
    for r in &spec.references {
        if !(r.url.starts_with("https://") || r.url.starts_with("http://")) {
            return Err(at(format!(
                "reference {:?}: url must start with https://",
                r.title
            )));
        }
    }
    Ok(Rule {
        id: spec.id,
        title: spec.title,
        summary: spec.summary,
        window_s: spec.window_s,
        min_classes: spec.min_classes,
        require: spec.require,
        severity: spec.severity.0,
        references: spec.references,
        weights: spec.weights,
        false_positives: spec.false_positives,
        triggers,
        follow_ups,
        vetoes,
        families: spec.family,
        origin: origin.to_string(),
    })
}

/// One line from a TOML error: its line number and message.
fn toml_error(text: &str, e: &toml::de::Error) -> String {
    let msg = e.message().split_whitespace().collect::<Vec<_>>().join(" ");
    match e.span() {
        Some(span) => {
            let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
            format!("line {line}: {msg}")
        }
        None => msg,
    }
}

/// Parses one rule file (a single rule, or several as `[[rule]]` tables).
pub fn parse(text: &str, origin: &str, file: &str) -> Result<Vec<Rule>, RuleError> {
    let err = |msg: String| RuleError {
        file: file.to_string(),
        msg,
    };
    let table: toml::Table = toml::from_str(text).map_err(|e| err(toml_error(text, &e)))?;
    let specs = if table.contains_key("rule") {
        toml::from_str::<RulesDoc>(text)
            .map_err(|e| err(toml_error(text, &e)))?
            .rule
    } else {
        vec![toml::from_str::<RuleSpec>(text).map_err(|e| err(toml_error(text, &e)))?]
    };
    specs
        .into_iter()
        .map(|s| compile(s, origin).map_err(err))
        .collect()
}

/// The embedded rules.
pub fn builtin() -> Result<Vec<Rule>, RuleError> {
    let mut out = Vec::new();
    for (name, text) in BUILTIN {
        out.extend(parse(text, &format!("builtin:{name}"), name)?);
    }
    Ok(out)
}

/// The embedded rules plus the analyst's files, in order; a rule whose id is already
/// present replaces it in place.
pub fn load(files: &[PathBuf]) -> Result<Vec<Rule>, RuleError> {
    let mut rules = builtin()?;
    for f in files {
        for r in load_file(f)? {
            match rules.iter_mut().find(|x| x.id == r.id) {
                Some(slot) => *slot = r,
                None => rules.push(r),
            }
        }
    }
    Ok(rules)
}

/// One rule file, validated (built-ins not included).
pub fn load_file(path: &Path) -> Result<Vec<Rule>, RuleError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| RuleError {
        file: file.clone(),
        msg: e.to_string(),
    })?;
    parse(&text, &file, &file)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
id = "demo"
title = "Demo"
severity = "high"
[[trigger]]
class = "net"
actor = "BackupAgent"
"#;

    #[test]
    fn builtin_rules_compile_and_cite_sources() {
        let rules = builtin().unwrap();
        assert!(rules.len() >= 6);
        for r in &rules {
            assert!(!r.references.is_empty(), "{} cites no write-up", r.id);
            assert!(
                !r.weights.trim().is_empty(),
                "{} does not say why its weights",
                r.id
            );
            assert!(
                !r.false_positives.is_empty(),
                "{} lists no false-positive causes",
                r.id
            );
        }
        let ids: Vec<&str> = rules.iter().map(|r| r.id.as_str()).collect();
        for id in [
            "triangulation_exact",
            "triangulation_heuristic",
            "forcedentry",
            "lookup_new_process",
            "shutdown_anomalies",
            "datausage_tampering",
        ] {
            assert!(ids.contains(&id), "{id}");
        }
    }

    #[test]
    fn string_tests() {
        let m = str_matcher(&toml::from_str::<toml::Table>("x = { prefix = ['/private/var/db/', '/private/var/tmp/'], not = { suffix = '.plist' } }").unwrap()["x"]).unwrap();
        assert!(m.matches("/private/var/tmp/hooker"));
        assert!(!m.matches("/private/var/tmp/x.plist"));
        assert!(!m.matches("/usr/libexec/x"));
        let r = str_matcher(&toml::Value::Table(
            toml::from_str("regex = '^delays:([3-9]|[1-9][0-9]+)$'").unwrap(),
        ))
        .unwrap();
        assert!(
            r.matches("delays:3")
                && r.matches("delays:12")
                && !r.matches("delays:2")
                && !r.matches("delays:02")
        );
        let ci = str_matcher(&toml::Value::Table(
            toml::from_str("equals = 'BackupAgent'\nignore_case = true").unwrap(),
        ))
        .unwrap();
        assert!(ci.matches("backupagent") && !ci.matches("BackupAgent2"));
        let any = str_matcher(&toml::Value::Array(vec!["a".into(), "b".into()])).unwrap();
        assert!(any.matches("b") && !any.matches("c"));
    }

    #[test]
    fn tag_tests() {
        let t: TagSpec = toml::Value::Table(
            toml::from_str("all = ['attachment_dir', 'empty_dir']\nany = ['M', 'C']\nnone = ['B']")
                .unwrap(),
        )
        .try_into()
        .unwrap();
        assert!(t.0.matches(&["attachment_dir", "empty_dir", "M"]));
        assert!(!t.0.matches(&["attachment_dir", "M"]));
        assert!(!t.0.matches(&["attachment_dir", "empty_dir"]));
        assert!(!t.0.matches(&["attachment_dir", "empty_dir", "C", "B"]));
    }

    #[test]
    fn severity_thresholds() {
        let s: SeveritySpec =
            toml::Value::Table(toml::from_str("critical = 10\nhigh = 6.5\nmedium = 3").unwrap())
                .try_into()
                .unwrap();
        assert_eq!(s.0.of(10.0), Severity::Critical);
        assert_eq!(s.0.of(7.0), Severity::High);
        assert_eq!(s.0.of(3.0), Severity::Medium);
        assert_eq!(s.0.of(1.0), Severity::Low);
    }

    #[test]
    fn user_rule_overrides_builtin_by_id() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("mine.toml");
        std::fs::write(&f, MINIMAL.replace("\"demo\"", "\"triangulation_exact\"")).unwrap();
        let g = dir.path().join("more.toml");
        std::fs::write(
            &g,
            format!(
                "[[rule]]\n{}",
                MINIMAL.trim().replace("[[trigger]]", "[[rule.trigger]]")
            ),
        )
        .unwrap();
        let n = builtin().unwrap().len();
        let rules = load(&[f.clone(), g]).unwrap();
        assert_eq!(rules.len(), n + 1);
        let t = rules
            .iter()
            .find(|r| r.id == "triangulation_exact")
            .unwrap();
        assert_eq!(t.title, "Demo");
        assert_eq!(t.origin, f.display().to_string());
        assert_eq!(rules.last().unwrap().id, "demo");
    }

    fn error_of(text: &str) -> String {
        parse(text, "x", "bad.toml").unwrap_err().to_string()
    }

    #[test]
    fn bad_rule_files_give_one_line_naming_the_file() {
        let cases = [
            (MINIMAL.replace("actor =", "actr ="), "unknown field `actr`"),
            (
                MINIMAL.replace("\"BackupAgent\"", "{ regex = '(' }"),
                "bad regex",
            ),
            (MINIMAL.replace("\"high\"", "\"severe\""), "unknown level"),
            (
                MINIMAL.replace("class = \"net\"\n", ""),
                "`class` is required",
            ),
            (
                MINIMAL.replace(
                    "severity = \"high\"",
                    "severity = \"high\"\nmin_classes = 2",
                ),
                "min_classes = 2 but",
            ),
            (
                MINIMAL.replace("actor = \"BackupAgent\"", ""),
                "no predicate",
            ),
            (
                MINIMAL.replace("actor = \"BackupAgent\"", "actor = { prefx = 'x' }"),
                "unknown string test `prefx`",
            ),
            ("id = \n".to_string(), "line 1"),
            (
                MINIMAL.replace(
                    "severity = \"high\"",
                    "severity = \"high\"\nrequire = [['nope']]",
                ),
                "require names `nope`",
            ),
            (
                MINIMAL.replace("class = \"net\"", "class = \"net\"\ncounts_as = \"other\""),
                "counts_as `other`",
            ),
        ];
        for (text, want) in cases {
            let e = error_of(&text);
            assert!(e.starts_with("rule file bad.toml: "), "{e}");
            assert!(e.contains(want), "{e} should mention {want}");
            assert!(!e.contains('\n'), "not one line: {e}");
        }
    }

    #[test]
    fn nested_selectors_take_predicates_only() {
        let text = MINIMAL.replace(
            "actor = \"BackupAgent\"",
            "[[trigger.any]]\nclass = \"x\"\nactor = \"a\"",
        );
        assert!(error_of(&text).contains("belongs on the selector"));
    }
}
