//! A flowfence plan in the forms teams apply and review: Terraform, CloudFormation, an
//! AWS CLI script, one rule per row as CSV or Parquet, and a Markdown or HTML report.
//! Every output is a pure function of the plan, so the same plan gives the same bytes.
//!
//! ```no_run
//! # fn run(plan: &flowfence_propose::Plan) {
//! let hcl = flowfence_export::render(plan, flowfence_export::Format::Terraform);
//! # }
//! ```

pub mod cloudformation;
mod diagram;
mod launch;
mod names;
pub mod report;
pub mod rules;
pub mod script;
pub mod table;
pub mod terraform;

use flowfence_propose::Plan;

/// What to write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// The plan's JSON (the contract other tools read).
    Json,
    /// Terraform (HCL).
    Terraform,
    /// A CloudFormation template (YAML).
    CloudFormation,
    /// An AWS CLI script (bash).
    Cli,
    /// One rule per row, CSV.
    Csv,
    /// One rule per row, Parquet.
    Parquet,
    /// The reviewer's report, Markdown.
    Markdown,
    /// The reviewer's report, HTML.
    Html,
}

/// The plan in `format`.
pub fn render(plan: &Plan, format: Format) -> Vec<u8> {
    match format {
        Format::Json => {
            let mut json = serde_json::to_string_pretty(plan).expect("the plan serialises");
            json.push('\n');
            json.into_bytes()
        }
        Format::Terraform => terraform::render(plan).into_bytes(),
        Format::CloudFormation => cloudformation::render(plan).into_bytes(),
        Format::Cli => script::render(plan).into_bytes(),
        Format::Csv => table::columns(plan).to_csv().into_bytes(),
        Format::Parquet => table::columns(plan)
            .write_parquet(Vec::new())
            .expect("writing Parquet to memory"),
        Format::Markdown => report::markdown(plan).into_bytes(),
        Format::Html => report::html(plan).into_bytes(),
    }
}

/// Whether `format` is binary (not for a terminal).
pub fn is_binary(format: Format) -> bool {
    format == Format::Parquet
}
