//! What an analysis saves beside its outputs and every reader shares: the run log
//! (`run.json`). Written by `analyze`, read by `report`, `query` and the shell; it sits
//! below all of them (see docs/ARCHITECTURE.md for the layer order).

pub mod runlog;

pub use runlog::{
    redact_secrets, ArtifactReport, ArtifactStatus, ContainerReport, EncryptionReport, RunLog,
    Stage, StageStart,
};
