//! jq: a jq `filter` (default `.`) run by jaq over the JSON document at `url`; every value it
//! gives is a candidate version, as in nvchecker's jq source: strings as they are, numbers as
//! text, a lone `null` is "no version" (an error unless `missing_ok`).

use jaq_core::{
    Compiler, Ctx, Vars, data,
    load::{Arena, File, Loader},
    unwrap_valr,
};
use jaq_json::Val;

use super::{Context, Found, Release, SourceError, required};
use crate::upstream::{config::Entry, http::Request};

pub async fn check(ctx: &Context, entry: &Entry) -> Result<Found, SourceError> {
    let url = required(entry, "url")?;
    if entry.options.contains_key("post_data") {
        return Err(SourceError::Config(
            "post_data (a POST request) is not supported".to_owned(),
        ));
    }
    let filter = entry.str("filter").unwrap_or(".");
    let reply = ctx.http.send(&Request::get(url)).await?;
    let input = jaq_json::read::parse_single(&reply.body)
        .map_err(|e| SourceError::Malformed(format!("{url}: malformed JSON: {e}")))?;
    let values = run(filter, input)?;
    if values.iter().all(|value| matches!(value, Val::Null)) {
        if entry.flag("missing_ok") {
            return Ok(Found::Many(Vec::new()));
        }
        return Err(SourceError::Malformed(format!(
            "{url}: filter {filter:?} found no version"
        )));
    }
    Ok(Found::Many(
        values.iter().filter_map(text).map(Release::plain).collect(),
    ))
}

/// Every value `filter` gives for `input`.
fn run(filter: &str, input: Val) -> Result<Vec<Val>, SourceError> {
    let bad = |what: String| SourceError::Config(format!("bad jq filter {filter:?}: {what}"));
    let program = File {
        code: filter,
        path: (),
    };
    let defs = jaq_core::defs()
        .chain(jaq_std::defs())
        .chain(jaq_json::defs());
    let funs = jaq_core::funs()
        .chain(jaq_std::funs())
        .chain(jaq_json::funs());
    let loader = Loader::new(defs);
    let arena = Arena::default();
    let modules = loader
        .load(&arena, program)
        .map_err(|errors| bad(format!("{} parse errors", errors.len())))?;
    let compiled = Compiler::default()
        .with_funs(funs)
        .compile(modules)
        .map_err(|errors| bad(format!("{} compile errors", errors.len())))?;
    let ctx = Ctx::<data::JustLut<Val>>::new(&compiled.lut, Vars::new([]));
    compiled
        .id
        .run((ctx, input))
        .map(unwrap_valr)
        .map(|value| {
            value.map_err(|e| SourceError::Malformed(format!("jq filter {filter:?}: {e}")))
        })
        .collect()
}

/// A value as nvchecker writes it with Python's `str`: a string as it is, `null` as nothing.
fn text(value: &Val) -> Option<String> {
    match value {
        Val::Null => None,
        Val::Bool(true) => Some("True".to_owned()),
        Val::Bool(false) => Some("False".to_owned()),
        Val::TStr(bytes) | Val::BStr(bytes) => Some(String::from_utf8_lossy(bytes).into_owned()),
        other => Some(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_give_versions() {
        let input = jaq_json::read::parse_single(
            br#"{"tags": [{"name": "v1.2"}, {"name": "v1.10"}], "n": 3, "none": null}"#,
        )
        .expect("JSON");
        let names = run(".tags[].name", input.clone()).expect("runs");
        let names: Vec<Option<String>> = names.iter().map(text).collect();
        assert_eq!(names, [Some("v1.2".to_owned()), Some("v1.10".to_owned())]);
        let number = run(".n", input.clone()).expect("runs");
        assert_eq!(text(&number[0]).as_deref(), Some("3"));
        assert!(matches!(
            run(".none", input.clone()).expect("runs")[..],
            [Val::Null]
        ));
        assert!(matches!(run(".tags[", input), Err(SourceError::Config(_))));
    }
}
