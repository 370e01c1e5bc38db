//! Markdown to sanitized HTML for previews: what the body will look like, with nothing active.

use pulldown_cmark::{html, Options, Parser};

/// Renders Markdown (CommonMark + tables, strikethrough, task lists) and sanitizes the HTML with
/// ammonia: no scripts, no event handlers, no styles, no remote images; links open nothing by
/// themselves (`rel="noopener noreferrer nofollow"`) and only http(s) and mailto are kept.
pub fn markdown_to_safe_html(markdown: &str) -> String {
    let mut options = Options::empty();
    options.insert(Options::ENABLE_TABLES);
    options.insert(Options::ENABLE_STRIKETHROUGH);
    options.insert(Options::ENABLE_TASKLISTS);
    let mut raw = String::with_capacity(markdown.len() * 3 / 2);
    html::push_html(&mut raw, Parser::new_ext(markdown, options));
    ammonia::Builder::default()
        .url_schemes(["http", "https", "mailto"].into_iter().collect())
        .link_rel(Some("noopener noreferrer nofollow"))
        // Images would be fetched by the webview: a preview must not reach the network.
        .rm_tags(["img"])
        .clean(&raw)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn active_content_is_removed() {
        let html = markdown_to_safe_html(
            "# Title\n\n<script>alert(1)</script>\n\n[x](javascript:alert(1)) <img src=https://evil.example/p.png onerror=alert(1)>\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n`<b>code</b>`",
        );
        assert!(html.contains("<h1>Title</h1>"), "{html}");
        assert!(html.contains("<table>"), "{html}");
        assert!(html.contains("&lt;b&gt;code&lt;/b&gt;"), "{html}");
        for bad in ["<script", "javascript:", "onerror", "<img", "evil.example"] {
            assert!(!html.contains(bad), "{bad} in {html}");
        }
    }
}
