//! htmlparser: the XPath `xpath` over the HTML page at `url` (skyscraper's WHATWG parser and
//! XPath); every item it selects is a candidate version, as in nvchecker's htmlparser source:
//! an element's whole text, an attribute's value, a text node or a computed string.

use skyscraper::xpath::{
    self,
    grammar::{XpathItemTreeNode, data_model::XpathItem},
};

use super::{Context, Found, Release, SourceError, required};
use crate::upstream::{config::Entry, http::Request};

pub async fn check(ctx: &Context, entry: &Entry) -> Result<Found, SourceError> {
    let url = required(entry, "url")?;
    let expression = required(entry, "xpath")?;
    for unsupported in ["post_data", "is_xml"] {
        if entry.options.contains_key(unsupported) {
            return Err(SourceError::Config(format!(
                "{unsupported} is not supported by mc-fetch upstream's htmlparser"
            )));
        }
    }
    let reply = ctx.http.send(&Request::get(url)).await?;
    // lxml reads UTF-8 unless the page or `encoding` says otherwise.
    let page = match entry.str("encoding") {
        Some(encoding) if encoding.eq_ignore_ascii_case("latin1") => {
            super::regex::decode(entry, &reply.body)
        }
        _ => String::from_utf8_lossy(&reply.body).into_owned(),
    };
    let versions = select(&page, expression).map_err(|e| match e {
        Select::Xpath(message) => {
            SourceError::Config(format!("bad xpath {expression:?}: {message}"))
        }
        Select::Page(message) => SourceError::Malformed(format!("{url}: {message}")),
    })?;
    if versions.is_empty() && !entry.flag("missing_ok") {
        return Err(SourceError::Malformed(format!(
            "{url}: xpath {expression:?} found no version"
        )));
    }
    Ok(Found::Many(
        versions.into_iter().map(Release::plain).collect(),
    ))
}

enum Select {
    Xpath(String),
    Page(String),
}

/// The text of every item `expression` selects in `page`.
fn select(page: &str, expression: &str) -> Result<Vec<String>, Select> {
    let xpath = xpath::parse(expression).map_err(|e| Select::Xpath(e.to_string()))?;
    let tree = skyscraper::html::parse(page)
        .map_err(|e| Select::Page(format!("HTML that does not parse: {e}")))?;
    let items = xpath
        .apply(&tree)
        .map_err(|e| Select::Xpath(e.to_string()))?;
    Ok(items
        .iter()
        .filter_map(|item| match item {
            XpathItem::Node(XpathItemTreeNode::AttributeNode(attribute)) => {
                Some(attribute.value.clone())
            }
            XpathItem::Node(node) => Some(node.text_content(&tree)),
            XpathItem::AnyAtomicType(value) => Some(value.to_string()),
            // A function item is no version.
            XpathItem::Function(_) => None,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selects_text_and_attributes() {
        let page = r#"<html><body><ul class="rel">
            <li><a href="/dl/tool-1.2.tar.gz">Tool <b>1.2</b></a></li>
            <li><a href="/dl/tool-1.10.tar.gz">Tool <b>1.10</b></a></li>
            </ul></body></html>"#;
        let text = select(page, "//ul[@class='rel']/li/a/b")
            .ok()
            .expect("selects");
        assert_eq!(text, ["1.2", "1.10"]);
        let hrefs = select(page, "//a/@href").ok().expect("selects");
        assert_eq!(hrefs, ["/dl/tool-1.2.tar.gz", "/dl/tool-1.10.tar.gz"]);
        assert!(matches!(select(page, "//a[@"), Err(Select::Xpath(_))));
    }
}
