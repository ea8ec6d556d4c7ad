//! The JSON form of a list of functions: what `mathapi functions --json` prints and
//! `configs/functions.json` holds, for everything outside Rust that needs the list (the stack
//! generators, the scripts, the front page).

use serde::Serialize;

use crate::description::Entry;

#[derive(Serialize)]
struct Catalog {
    functions: Vec<Function>,
    /// The function whose service also serves the durable sequence.
    sequence: &'static str,
}

#[derive(Serialize)]
struct Function {
    name: &'static str,
    binary: &'static str,
    port: u16,
    route: String,
    summary: &'static str,
    /// A path that answers 200 with the documented example.
    sample_path: String,
    params: Vec<Param>,
    page: Page,
}

#[derive(Serialize)]
struct Param {
    name: &'static str,
    default_max: u64,
    hard_max: u64,
    flag: String,
    env: &'static str,
}

#[derive(Serialize)]
struct Page {
    heading: &'static str,
    formula: &'static str,
    hint: &'static str,
    initial: &'static [u64],
}

/// The list as pretty-printed JSON, ending with a newline; `sequence` names the function
/// whose service also serves the durable sequence.
pub fn catalog_json(entries: &[Entry], sequence: &'static str) -> String {
    let catalog = Catalog {
        functions: entries.iter().map(function).collect(),
        sequence,
    };
    let mut json = serde_json::to_string_pretty(&catalog).expect("the catalog serializes");
    json.push('\n');
    json
}

fn function(entry: &Entry) -> Function {
    let d = entry.description;
    let mut sample_path = format!("/{}/", d.name);
    for arg in d.example.args {
        sample_path.push_str(&format!("{arg}/"));
    }
    Function {
        name: d.name,
        binary: d.name,
        port: d.default_port,
        route: d.route(),
        summary: d.summary,
        sample_path,
        params: d
            .params
            .iter()
            .map(|p| Param {
                name: p.name,
                default_max: p.default_max,
                hard_max: p.hard_max,
                flag: format!("--{}", p.flag),
                env: p.env,
            })
            .collect(),
        page: Page {
            heading: d.page.heading,
            formula: d.page.formula,
            hint: d.page.hint,
            initial: d.page.initial,
        },
    }
}
