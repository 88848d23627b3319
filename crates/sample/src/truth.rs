//! `TRUTH.json` (every planted row: artifact, record, what, ts, role, class — the
//! artifact and record spelled as docs/SCHEMA.md names them) and a `README.md` that
//! tells the same story to a person.

use std::path::Path;

use super::model::{Role, Truth, World};
use super::{clock, io_err, sysdiagnose, Case, Options, SampleError};

pub fn write(
    w: &World,
    case: Case,
    opts: &Options,
    dir: &Path,
    mut truths: Vec<Truth>,
) -> Result<usize, SampleError> {
    truths.sort_by(|a, b| (a.us, &a.artifact, &a.record).cmp(&(b.us, &b.artifact, &b.record)));
    let path = dir.join("TRUTH.json");
    let mut json = serde_json::to_string_pretty(&truths).unwrap_or_default();
    json.push('\n');
    std::fs::write(&path, json).map_err(io_err(&path))?;
    let path = dir.join("README.md");
    std::fs::write(&path, readme(w, case, opts, &truths)).map_err(io_err(&path))?;
    Ok(truths.len())
}

fn story(case: Case) -> &'static str {
    match case {
        Case::Triangulation => {
            "Operation Triangulation as Kaspersky published it (2022-09-13): an iMessage \
carrying a `.watchface` attachment arrives with no user interaction; IMTransferAgent \
downloads ~76 MB, 43 s later the attachment folder `Library/SMS/Attachments/65/05` is \
modified and left empty (the implant deleted the message and its attachment: there is \
no message row, only a gap in the message and attachment ROWIDs), then the deprecated \
`BackupAgent` uses the network, `com.apple.ImageIO.plist` changes, WebContent traffic \
follows and the IonosphereHarvest location bundle stops. Crash logs of the day are gone."
        }
        Case::Forcedentry => {
            "NSO's FORCEDENTRY as Citizen Lab and Amnesty described it (June 2021): the \
phone looks up an attacker Apple ID, then two iMessages from that never-seen handle \
carry `<10 random chars>.gif` attachments that are really an Adobe PSD and a PDF with a \
JBIG2 stream; IMTranscoderAgent crashes a few seconds after each; minutes later the \
Pegasus process `roleaboutd` (no bundle id) appears in DataUsage with traffic, and a \
usage row remains whose process row was deleted. A day and a half later a reboot is \
held up by 4 delay notices with `rolexd` running from \
`/private/var/db/com.apple.xpc.roleaccountd.staging/`."
        }
        Case::Clean => {
            "A year of benign life and nothing else. The planted rows are near misses a \
naive rule would flag and detection must not: WebContent traffic with no message near, \
a benign `com.apple.ImageIO.plist` write 26 s after `powerd` diagnostics traffic, \
`BackupAgent2` (the legitimate backup agent), an inbound photo that really is a JPEG \
and still sits in its folder, and a software-update reboot with 2 delay notices and \
only /System and /usr clients."
        }
    }
}

fn readme(w: &World, case: Case, opts: &Options, truths: &[Truth]) -> String {
    let d = &w.device;
    let mut s = String::new();
    s.push_str(&format!("# Sample case `{}`\n\n", case.name()));
    s.push_str(
        "Synthetic evidence written by `chainline-sample` (crates/sample); every name, number and \
address in it is fictional except the published attacker indicators it plants.\n\n",
    );
    s.push_str(&format!("{}\n\n", story(case)));
    s.push_str("## Phone\n\n");
    s.push_str(&format!(
        "- {} ({}, {}), iOS {} ({}), time zone {}\n- UDID `{}`, backup of {}, sysdiagnose of {}\n- benign life from {} to {}: {} messages, {} DataUsage rows\n\n",
        d.name,
        d.product_name,
        d.product_type,
        d.version,
        d.build,
        d.tz.name(),
        d.udid,
        clock::rfc3339(d.backup),
        clock::rfc3339(d.sysdiagnose),
        &clock::rfc3339(d.span.0)[..10],
        &clock::rfc3339(d.span.1)[..10],
        w.messages.iter().filter(|m| !m.deleted).count(),
        w.processes.iter().filter(|p| !p.deleted).count()
            + super::datausage::live_rows(w).rows.len(),
    ));
    s.push_str("## Layout\n\n");
    s.push_str(&format!(
        "- `backup/{}/`: iTunes backup (Manifest.db, Info.plist, Manifest.plist, Status.plist, files under `<id[0:2]>/<id>`)\n- `{}.tar.gz`: sysdiagnose (shutdown.log, crashes_and_spins/*.ips, ps.txt)\n- `crashes/`: a legacy `.crash` report\n- `TRUTH.json`: the planted rows below, machine-readable\n\n",
        d.udid,
        sysdiagnose::folder_name(w)
    ));
    let heading = if case == Case::Clean {
        "## Near misses (must not be flagged)"
    } else {
        "## Planted events"
    };
    s.push_str(&format!("{heading}\n\n| time (UTC) | role | class | artifact | record | what |\n|---|---|---|---|---|---|\n"));
    for t in truths {
        let role = match t.role {
            Role::Trigger => "trigger",
            Role::FollowUp => "follow-up",
            Role::Context => "context",
            Role::NearMiss => "near miss",
        };
        let record = if t.record.starts_with("Files:") {
            format!("{}…", &t.record[..14.min(t.record.len())])
        } else {
            t.record.clone()
        };
        s.push_str(&format!(
            "| {} | {role} | {} | `{}` | `{record}` | {} |\n",
            t.ts, t.class, t.artifact, t.what
        ));
    }
    s.push_str(&format!(
        "\n## Regenerate\n\n```\ncargo run -p chainline-sample -- {} -o <DIR> --seed {} --scale {}\n```\n\nThe same seed and scale give the same bytes.\n",
        case.name(),
        opts.seed,
        opts.scale
    ));
    s
}
