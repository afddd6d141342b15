"""Hugo's side of bench/scale.py: Debian's hugo, and a minimal site of the same posts.

Why: the issue's yardstick for a cold build is Hugo, the fast static site
generator. For the comparison to mean anything Hugo must write what postroom
writes, from the same posts, and nothing much more:
  - posts/<date>-<slug>/index.html for every post (single.html);
  - index.html: the 50 newest with their summaries (postroom's window);
  - posts/index.html: every post (postroom's list of all posts);
  - tags/<tag>/ and sources/<source>/: a page of 50 posts a page, paginated,
    and a feed (two taxonomies, as postroom writes per-tag and per-source
    pages and feeds); tags/index.html and sources/index.html list them
    (postroom's topics page);
  - RSS for the site and for each tag and source, 50 items (postroom's window).
    By default each item carries the full post, as postroom's feeds and the
    Pelican setup do ("full"); "builtin" uses Hugo's own RSS template, which
    carries the summary only.
postroom also writes Atom and JSON Feed beside each RSS feed, and a digest
archive; Hugo here writes RSS only. No theme, no sitemap, no 404 page.
"""

# ruff: noqa: E501  (the templates are Hugo's text, one element a line)
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from bench.debian import Missing, ensure

HUGO = "hugo"

CONFIG = """\
# Written by bench/hugo.py: Hugo set to write what postroom writes to public/.
baseURL = "https://bench.example/"
title = "postroom"
languageCode = "en"
timeZone = "Europe/London"
disableKinds = ["sitemap", "robotsTXT", "404"]
paginate = 50
rssLimit = 50

[services.rss]
limit = 50

[taxonomies]
tag = "tags"
source = "sources"

[permalinks]
posts = "/posts/:year-:month-:day-:slug/"

[outputs]
home = ["HTML", "RSS"]
section = ["HTML"]
taxonomy = ["HTML"]
term = ["HTML", "RSS"]
"""

LAYOUTS = {
    "_default/single.html": """\
<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{ .Title }} - {{ .Site.Title }}</title>
<link rel="alternate" type="application/rss+xml" href="{{ "index.xml" | absURL }}">
</head><body><article>
<h1>{{ .Title }}</h1>
<p>{{ .Date.Format "2 January 2006" }} &middot; {{ .Params.author }}
{{ range .GetTerms "sources" }} &middot; <a href="{{ .RelPermalink }}">{{ .LinkTitle }}</a>{{ end }}</p>
{{ .Content }}
<p>{{ range .GetTerms "tags" }}<a href="{{ .RelPermalink }}">{{ .LinkTitle }}</a> {{ end }}</p>
</article></body></html>
""",
    "index.html": """\
<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{ .Site.Title }}</title>
<link rel="alternate" type="application/rss+xml" href="{{ "index.xml" | absURL }}">
</head><body><h1>{{ .Site.Title }}</h1>
{{ range first 50 (where .Site.RegularPages "Section" "posts").ByDate.Reverse }}
<article><h2><a href="{{ .RelPermalink }}">{{ .Title }}</a></h2>
<p>{{ .Date.Format "2 January 2006" }}</p><p>{{ .Summary }}</p></article>
{{ end }}
<p><a href="{{ "posts/" | relURL }}">All posts</a></p>
</body></html>
""",
    "_default/list.html": """\
<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{ .Title }} - {{ .Site.Title }}</title>
{{ with .OutputFormats.Get "RSS" }}<link rel="alternate" type="application/rss+xml" href="{{ .Permalink }}">{{ end }}
</head><body><h1>{{ .Title }}</h1><ul>
{{ if eq .Kind "section" }}
{{ range .Pages.ByDate.Reverse }}<li><a href="{{ .RelPermalink }}">{{ .Title }}</a> {{ .Date.Format "2006-01-02" }}</li>
{{ end }}
{{ else }}
{{ range (.Paginate .Pages.ByDate.Reverse 50).Pages }}<li><a href="{{ .RelPermalink }}">{{ .Title }}</a> {{ .Date.Format "2006-01-02" }}</li>
{{ end }}
{{ end }}
</ul>
{{ if ne .Kind "section" }}{{ template "_internal/pagination.html" . }}{{ end }}
</body></html>
""",
    "_default/terms.html": """\
<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{ .Title }} - {{ .Site.Title }}</title>
</head><body><h1>{{ .Title }}</h1><ul>
{{ range .Data.Terms.ByCount }}<li><a href="{{ .Page.RelPermalink }}">{{ .Page.Title }}</a> ({{ .Count }})</li>
{{ end }}</ul></body></html>
""",
}

# Hugo 0.111's built-in RSS template with the full post in <description> (its own
# has .Summary there), so the feeds carry what postroom's and Pelican's do.
RSS_FULL = """\
{{- $pctx := . -}}
{{- if .IsHome -}}{{ $pctx = .Site }}{{- end -}}
{{- $pages := slice -}}
{{- if or $.IsHome $.IsSection -}}
{{- $pages = $pctx.RegularPages -}}
{{- else -}}
{{- $pages = $pctx.Pages -}}
{{- end -}}
{{- $limit := .Site.Config.Services.RSS.Limit -}}
{{- if ge $limit 1 -}}
{{- $pages = $pages | first $limit -}}
{{- end -}}
{{- printf "<?xml version=\\"1.0\\" encoding=\\"utf-8\\" standalone=\\"yes\\"?>" | safeHTML }}
<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom">
  <channel>
    <title>{{ if eq .Title .Site.Title }}{{ .Site.Title }}{{ else }}{{ with .Title }}{{ . }} on {{ end }}{{ .Site.Title }}{{ end }}</title>
    <link>{{ .Permalink }}</link>
    <description>Recent content {{ if ne .Title .Site.Title }}{{ with .Title }}in {{ . }} {{ end }}{{ end }}on {{ .Site.Title }}</description>
    <generator>Hugo -- gohugo.io</generator>
    {{- with .Site.LanguageCode }}<language>{{ . }}</language>{{ end }}
    {{- if not .Date.IsZero }}<lastBuildDate>{{ .Date.Format "Mon, 02 Jan 2006 15:04:05 -0700" | safeHTML }}</lastBuildDate>{{ end }}
    {{- with .OutputFormats.Get "RSS" -}}
    {{ printf "<atom:link href=%q rel=\\"self\\" type=%q />" .Permalink .MediaType | safeHTML }}
    {{- end -}}
    {{ range $pages }}
    <item>
      <title>{{ .Title }}</title>
      <link>{{ .Permalink }}</link>
      <pubDate>{{ .Date.Format "Mon, 02 Jan 2006 15:04:05 -0700" | safeHTML }}</pubDate>
      <guid>{{ .Permalink }}</guid>
      <description>{{ .Content | html }}</description>
    </item>
    {{ end }}
  </channel>
</rss>
"""


HugoMissing = Missing


def ensure_hugo() -> str:
    """Hugo's version line; installs Debian's hugo with apt-get (as root) when missing."""
    ensure(HUGO, "hugo")
    out = subprocess.run([HUGO, "version"], capture_output=True, text=True, check=False)
    return out.stdout.strip() or out.stderr.strip()


def _front_matter(text: str) -> tuple[dict[str, str], str]:
    """The generator's own front matter: `key: value` lines between `---` fences."""
    _, head, body = text.split("---\n", 2)
    meta = {}
    for line in head.splitlines():
        key, _, value = line.partition(":")
        meta[key.strip()] = value.strip()
    return meta, body


def hugo_markdown(text: str) -> str:
    """One generated Markdown post in Hugo's front matter: the source becomes the
    `sources` taxonomy (Hugo names a taxonomy's front-matter key by its plural)."""
    meta, body = _front_matter(text)
    source = meta["source"].strip('"')
    head = (
        f"---\ntitle: {meta['title']}\ndate: {meta['date']}\nauthor: {meta['author']}\n"
        f'sources: ["{source}"]\ntags: {meta["tags"]}\n---\n'
    )
    return head + body


def write_site(postroom_content: Path, hugo: Path, rss: str = "full") -> int:
    """Hugo's copy of the posts under hugo/content/posts, config and layouts; posts written."""
    hugo.mkdir(parents=True, exist_ok=True)
    (hugo / "hugo.toml").write_text(CONFIG, encoding="utf-8")
    for name, text in LAYOUTS.items():
        path = hugo / "layouts" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    if rss == "full":
        (hugo / "layouts" / "_default" / "rss.xml").write_text(RSS_FULL, encoding="utf-8")
    count = 0
    made: set[Path] = set()
    for folder, _dirs, names in os.walk(postroom_content):
        for name in names:
            src = Path(folder) / name
            dest = hugo / "content" / "posts" / src.relative_to(postroom_content)
            if dest.parent not in made:
                dest.parent.mkdir(parents=True, exist_ok=True)
                made.add(dest.parent)
            dest.write_text(hugo_markdown(src.read_text(encoding="utf-8")), encoding="utf-8")
            count += 1
    return count


def command(site: Path) -> list[str]:
    """One full build; its cache folder inside the site, so a cold run can empty it."""
    return [
        HUGO,
        "--source",
        str(site),
        "--destination",
        "public",
        "--cacheDir",
        str(site / ".cache"),
    ]


def clean(site: Path) -> None:
    """What a cold run must not find: the output, resources and the cache."""
    for name in ("public", "resources", ".cache"):
        shutil.rmtree(site / name, ignore_errors=True)
