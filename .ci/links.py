#!/usr/bin/env python3
"""Checks every relative link in README.md and docs/*.md: the file or
directory it names must exist, and an anchor (#...) must be a heading of the
page it points into, spelt as GitHub spells heading anchors. Links to other
sites are left alone. Exits 1 and names each broken link."""
import pathlib
import re
import sys

root = pathlib.Path(__file__).resolve().parent.parent
pages = [root / "README.md", *sorted((root / "docs").glob("*.md"))]
link = re.compile(r"\]\(([^)\s]+)\)")


def prose(text):
    """The text outside fenced code blocks and inline code."""
    text = re.sub(r"^```.*?^```", "", text, flags=re.M | re.S)
    return re.sub(r"`[^`\n]*`", "", text)


def anchors(path):
    """The anchors of a Markdown file's headings, as GitHub makes them."""
    seen, out = {}, set()
    for line in re.sub(r"^```.*?^```", "", path.read_text(), flags=re.M | re.S).splitlines():
        m = re.match(r"#{1,6}\s+(.*)", line)
        if not m:
            continue
        title = re.sub(r"\[([^]]*)\]\([^)]*\)", r"\1", m.group(1)).strip().lower()
        slug = re.sub(r"[^\w\- ]", "", title).replace(" ", "-")
        n = seen.get(slug, 0)
        seen[slug] = n + 1
        out.add(slug if n == 0 else f"{slug}-{n}")
    return out


broken = []
for page in pages:
    for target in link.findall(prose(page.read_text())):
        if re.match(r"[a-z]+:", target):
            continue  # another site, or mailto:
        file, _, anchor = target.partition("#")
        dest = (page.parent / file).resolve() if file else page
        if not dest.exists():
            broken.append(f"{page.relative_to(root)}: {target}: no such file")
        elif anchor and (dest.suffix != ".md" or anchor not in anchors(dest)):
            broken.append(f"{page.relative_to(root)}: {target}: no such heading")
for b in broken:
    print(b)
sys.exit(1 if broken else 0)
