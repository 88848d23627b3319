//! The phone's life as plain records, before any artifact is written. Benign life
//! ([`super::life`]) and the planted stories ([`super::cases`]) fill a [`World`];
//! [`World::settle`] orders everything by time and hands out row ids the way the
//! phone would have; the writers then turn it into files.

use chrono::NaiveDate;
use chrono_tz::Tz;

use super::clock::{self, Intervals};

/// Why a record is in TRUTH.json.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// What starts the chain (a message, or the first trace when the message is gone).
    Trigger,
    /// What followed within minutes and belongs to the chain.
    FollowUp,
    /// Part of the story but not a follow-up class of its own (e.g. the download).
    Context,
    /// Benign look-alike detection must not flag.
    NearMiss,
}

/// A planted record: what it is, its role and its follow-up class
/// (`sms`, `net`, `file`, `location`, `crash`, `ioc`, `process`, `shutdown`).
#[derive(Debug, Clone)]
pub struct Mark {
    pub what: String,
    pub role: Role,
    pub class: &'static str,
}

impl Mark {
    pub fn new(role: Role, class: &'static str, what: impl Into<String>) -> Option<Mark> {
        Some(Mark {
            what: what.into(),
            role,
            class,
        })
    }
}

/// One line of TRUTH.json.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Truth {
    /// Logical path as docs/SCHEMA.md names it.
    pub artifact: String,
    /// Row locator as docs/SCHEMA.md names it.
    pub record: String,
    pub what: String,
    /// RFC 3339 UTC with microseconds.
    pub ts: String,
    pub role: Role,
    pub class: &'static str,
    #[serde(skip)]
    pub us: i64,
}

impl Truth {
    pub fn new(
        artifact: impl Into<String>,
        record: impl Into<String>,
        us: i64,
        mark: &Mark,
    ) -> Truth {
        Truth {
            artifact: artifact.into(),
            record: record.into(),
            what: mark.what.clone(),
            ts: clock::rfc3339(us),
            role: mark.role,
            class: mark.class,
            us,
        }
    }
}

/// sms.db generations whose columns differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Ios {
    V14,
    V15,
    V16,
}

#[derive(Debug, Clone)]
pub struct Device {
    pub udid: String,
    pub name: String,
    pub product_type: &'static str,
    pub product_name: &'static str,
    pub ios: Ios,
    pub version: &'static str,
    pub build: &'static str,
    /// Earlier versions the phone ran: (until, version, build), oldest first.
    pub history: Vec<(i64, &'static str, &'static str)>,
    pub serial: String,
    pub imei: String,
    pub iccid: String,
    pub phone: String,
    pub apple_id: String,
    pub tz: Tz,
    /// The year of life the noise is spread over.
    pub span: (i64, i64),
    pub backup: i64,
    pub sysdiagnose: i64,
}

impl Device {
    /// The OS version and build running at `us`.
    pub fn os_at(&self, us: i64) -> (&'static str, &'static str) {
        let mut cur = (self.version, self.build);
        for (from, v, b) in self.history.iter().rev() {
            if us < *from {
                cur = (v, b);
            }
        }
        cur
    }

    pub fn first_day(&self) -> NaiveDate {
        clock::local_date(self.span.0, self.tz)
    }

    pub fn days(&self) -> i64 {
        (self.span.1 - self.span.0) / clock::DAY
    }
}

#[derive(Debug, Clone)]
pub struct Handle {
    pub id: String,
    pub service: &'static str,
    pub country: &'static str,
    /// Deleted with its only message (no row written, its ROWID stays used).
    pub deleted: bool,
}

#[derive(Debug, Clone)]
pub struct Chat {
    pub guid: String,
    /// 45 one-to-one, 43 group.
    pub style: i64,
    pub identifier: String,
    pub service: &'static str,
    pub display_name: String,
    pub handles: Vec<usize>,
    pub deleted: bool,
}

#[derive(Debug, Clone)]
pub struct Message {
    pub us: i64,
    pub extra_ns: i64,
    pub guid: String,
    pub text: String,
    /// The body lives only in `attributedBody` (text column NULL).
    pub text_null: bool,
    /// Sender for inbound, recipient for one-to-one outbound, `None` (handle_id 0)
    /// for outbound group messages.
    pub handle: Option<usize>,
    pub chat: usize,
    pub from_me: bool,
    pub service: &'static str,
    /// Seconds until read (inbound) or delivered (outbound); `None` never.
    pub read_after: Option<i64>,
    pub attachments: Vec<usize>,
    /// Deleted by the implant: its ROWID is used, no row is written.
    pub deleted: bool,
    pub mark: Option<Mark>,
    pub rowid: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Media {
    Jpeg,
    Heic,
    Png,
    Gif,
    Mov,
    /// A PDF with a JBIG2 stream, named `.gif` (FORCEDENTRY).
    PdfAsGif,
    /// An Adobe PSD, named `.gif` (FORCEDENTRY).
    PsdAsGif,
    Watchface,
}

#[derive(Debug, Clone)]
pub struct Attachment {
    pub us: i64,
    pub guid: String,
    /// `xx/yy/<GUID>` under `Library/SMS/Attachments/`.
    pub dir: String,
    pub name: String,
    pub media: Media,
    pub size: i64,
    pub outgoing: bool,
    /// The file is in the backup folder (most are only listed in Manifest.db).
    pub present: bool,
    /// Its bytes when present.
    pub content: Vec<u8>,
    pub deleted: bool,
    pub mark: Option<Mark>,
    pub rowid: i64,
}

impl Attachment {
    pub fn relative_path(&self) -> String {
        format!("Library/SMS/Attachments/{}/{}", self.dir, self.name)
    }
}

#[derive(Debug, Clone)]
pub struct Process {
    /// ZPROCNAME as DataUsage stores it.
    pub procname: String,
    pub bundle: Option<String>,
    pub first: i64,
    /// ZTIMESTAMP; raised to the last usage row when settled.
    pub last: i64,
    /// Deleted ZPROCESS row (its usage rows become orphans).
    pub deleted: bool,
    pub mark: Option<Mark>,
    pub pk: i64,
}

#[derive(Debug, Clone)]
pub struct Usage {
    pub process: usize,
    pub us: i64,
    pub wifi_in: f64,
    pub wifi_out: f64,
    pub wwan_in: f64,
    pub wwan_out: f64,
    pub mark: Option<Mark>,
    pub pk: i64,
}

/// A file or folder as Manifest.db lists it. Folders that only exist as parents of
/// listed files are derived by the backup writer.
#[derive(Debug, Clone)]
pub struct FileEntry {
    pub domain: String,
    pub path: String,
    /// 1 file, 2 directory, 4 symlink.
    pub flags: i64,
    pub birth: i64,
    pub modified: i64,
    pub changed: i64,
    pub size: i64,
    pub mark: Option<Mark>,
}

#[derive(Debug, Clone)]
pub struct Visit {
    pub us: i64,
    pub url: String,
    pub title: String,
    /// Index of the visit this one redirected from.
    pub redirect_from: Option<usize>,
}

#[derive(Debug, Clone)]
pub struct TccRow {
    pub service: &'static str,
    pub client: String,
    pub auth_value: i64,
    pub auth_reason: i64,
    pub us: i64,
}

#[derive(Debug, Clone)]
pub struct Reboot {
    /// The SIGTERM instant.
    pub us: i64,
    /// One `After N s` notice each, with the clients still there.
    pub delays: Vec<(f64, Vec<(u32, String)>)>,
    pub mark: Option<Mark>,
    /// A client path whose first line is planted.
    pub client_mark: Option<(String, Mark)>,
}

#[derive(Debug, Clone)]
pub struct Crash {
    pub us: i64,
    pub name: String,
    pub path: String,
    pub bundle: String,
    pub pid: u32,
    pub exception: &'static str,
    pub signal: &'static str,
    pub subtype: String,
    /// Frames of the crashing thread: (image, symbol).
    pub frames: Vec<(&'static str, &'static str)>,
    /// Pulled off the phone as a legacy `.crash` text report (the `crashes/` folder)
    /// rather than found as `.ips` in the sysdiagnose.
    pub legacy: bool,
    pub mark: Option<Mark>,
}

#[derive(Debug, Clone)]
pub struct IdLookup {
    pub service: &'static str,
    pub identity: String,
    pub us: i64,
    pub status: i64,
    pub mark: Option<Mark>,
}

#[derive(Debug, Clone)]
pub struct LocationClient {
    pub key: String,
    pub bundle_path: Option<String>,
    pub times: Vec<(&'static str, i64)>,
    /// The planted `*TimeStopped` key.
    pub mark: Option<(&'static str, Mark)>,
}

#[derive(Debug, Clone)]
pub struct Baseline {
    pub process: String,
    pub us: i64,
    pub bytes: [i64; 4],
    pub mark: Option<Mark>,
}

/// The three preference files whose times Kaspersky's triangle_check watches, and
/// the other files whose only trace is their Manifest.db times.
#[derive(Debug, Clone)]
pub struct Times {
    pub birth: i64,
    pub modified: i64,
    pub changed: i64,
    pub mark: Option<Mark>,
}

#[derive(Debug)]
pub struct World {
    pub device: Device,
    /// Where no benign message may fall (around planted stories).
    pub reserved: Intervals,
    /// Where benign follow-up-like noise may not fall: after inbound messages and
    /// around planted stories.
    pub busy: Intervals,
    pub handles: Vec<Handle>,
    pub chats: Vec<Chat>,
    pub messages: Vec<Message>,
    pub attachments: Vec<Attachment>,
    pub processes: Vec<Process>,
    pub usages: Vec<Usage>,
    pub files: Vec<FileEntry>,
    pub visits: Vec<Visit>,
    pub tcc: Vec<TccRow>,
    pub reboots: Vec<Reboot>,
    pub crashes: Vec<Crash>,
    pub lookups: Vec<IdLookup>,
    pub locations: Vec<LocationClient>,
    pub baseline: Vec<Baseline>,
    /// Times of the preference files by relative path (see `plists`).
    pub prefs: Vec<(&'static str, &'static str, Times)>,
    /// Attachment folders `xx` never used by benign life (a planted empty folder).
    pub avoid_attachment_dirs: Vec<String>,
    /// Handle, ZPROCESS and attachment ROWIDs, settled.
    pub handle_rowids: Vec<i64>,
    pub chat_rowids: Vec<i64>,
    /// Highest ROWIDs ever used, deleted rows included (sqlite_sequence, Z_MAX).
    pub max_message: i64,
    pub max_attachment: i64,
    pub max_handle: i64,
    pub max_chat: i64,
    pub max_process: i64,
    pub max_usage: i64,
}

impl World {
    pub fn new(device: Device) -> World {
        World {
            device,
            reserved: Intervals::default(),
            busy: Intervals::default(),
            handles: Vec::new(),
            chats: Vec::new(),
            messages: Vec::new(),
            attachments: Vec::new(),
            processes: Vec::new(),
            usages: Vec::new(),
            files: Vec::new(),
            visits: Vec::new(),
            tcc: Vec::new(),
            reboots: Vec::new(),
            crashes: Vec::new(),
            lookups: Vec::new(),
            locations: Vec::new(),
            baseline: Vec::new(),
            prefs: Vec::new(),
            avoid_attachment_dirs: Vec::new(),
            handle_rowids: Vec::new(),
            chat_rowids: Vec::new(),
            max_message: 0,
            max_attachment: 0,
            max_handle: 0,
            max_chat: 0,
            max_process: 0,
            max_usage: 0,
        }
    }

    /// Orders records by time and gives out row ids as the phone would have:
    /// AUTOINCREMENT ROWIDs and Core Data Z_PKs grow with time, deleted rows keep
    /// their id (a gap), handles and chats are numbered by first use.
    pub fn settle(&mut self) {
        // Messages and their attachments.
        let mut order: Vec<usize> = (0..self.messages.len()).collect();
        order.sort_by_key(|&i| (self.messages[i].us, i));
        let mut handle_first: Vec<Option<i64>> = vec![None; self.handles.len()];
        let mut chat_first: Vec<Option<i64>> = vec![None; self.chats.len()];
        let mut next_att = 0i64;
        for (n, &i) in order.iter().enumerate() {
            let m = &mut self.messages[i];
            m.rowid = n as i64 + 1;
            if let Some(h) = m.handle {
                handle_first[h].get_or_insert(m.us);
            }
            chat_first[m.chat].get_or_insert(m.us);
            for &a in &m.attachments {
                next_att += 1;
                self.attachments[a].rowid = next_att;
            }
        }
        for (c, chat) in self.chats.iter().enumerate() {
            let t = chat_first[c].unwrap_or(i64::MAX);
            for &h in &chat.handles {
                let slot = &mut handle_first[h];
                if slot.is_none_or(|v| t < v) {
                    *slot = Some(t);
                }
            }
        }
        self.max_message = order.len() as i64;
        self.max_attachment = next_att;
        self.handle_rowids = rank(&handle_first);
        self.chat_rowids = rank(&chat_first);
        self.max_handle = self.handles.len() as i64;
        self.max_chat = self.chats.len() as i64;

        // DataUsage: processes by first appearance, usage rows by time.
        let mut porder: Vec<usize> = (0..self.processes.len()).collect();
        porder.sort_by_key(|&i| (self.processes[i].first, i));
        for (n, &i) in porder.iter().enumerate() {
            self.processes[i].pk = n as i64 + 1;
        }
        self.usages.sort_by_key(|u| u.us);
        for (n, u) in self.usages.iter_mut().enumerate() {
            u.pk = n as i64 + 1;
            let p = &mut self.processes[u.process];
            p.last = p.last.max(u.us);
        }
        self.max_process = self.processes.len() as i64;
        self.max_usage = self.usages.len() as i64;
    }
}

/// 1-based ranks by first use (unused last, in index order).
fn rank(first: &[Option<i64>]) -> Vec<i64> {
    let mut idx: Vec<usize> = (0..first.len()).collect();
    idx.sort_by_key(|&i| (first[i].unwrap_or(i64::MAX), i));
    let mut out = vec![0i64; first.len()];
    for (n, i) in idx.into_iter().enumerate() {
        out[i] = n as i64 + 1;
    }
    out
}
