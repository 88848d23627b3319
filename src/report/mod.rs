//! The HTML report (minimal until the report issue lands).

use std::path::Path;

use polars::prelude::DataFrame;

use crate::analyze::RunLog;

const TEMPLATE: &str = include_str!("../../templates/report.html.tera");

pub fn write(out: &Path, timeline: &DataFrame, log: &RunLog) -> anyhow::Result<()> {
    let mut tera = tera::Tera::default();
    tera.add_raw_template("report.html", TEMPLATE)?;
    tera.autoescape_on(vec![".html"]);
    let mut ctx = tera::Context::new();
    ctx.insert("log", log);
    ctx.insert("rows", &timeline.height());
    let html = tera.render("report.html", &ctx)?;
    std::fs::write(out.join("report.html"), html)?;
    Ok(())
}
