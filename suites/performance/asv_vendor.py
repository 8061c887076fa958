"""Serve the ASV dashboard without the internet: its JavaScript libraries from the npm registry.

``asv publish`` writes an ``index.html`` that loads jQuery, flot, bootstrap and three small
plug-ins from public CDNs. Offline (CI, these machines, a reader behind a proxy) the page then
shows only "One or more external (JavaScript) dependencies of airspeed velocity failed to
load". ``vendor_site`` puts the same libraries beside the page and points ``index.html`` at
them, so the committed site works from a plain file server. The libraries come from the npm
registry through the ``npm`` client (``npm pack``, cached under ``.asv/vendor``); each one's
licence file is copied with it.

The CDN's ``stupidtable`` 1.0.1 is not on npm; ``stupid-table-plugin`` 1.1.3, the same
plug-in's later release, stands in for it (the dashboard's table sorting uses only its
``stupidtable()`` call).
"""

from __future__ import annotations

import base64
import hashlib
import re
import shutil
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CACHE = ROOT / ".asv" / "vendor"


@dataclass(frozen=True)
class Library:
    url_pattern: str             # regular expression for the CDN address in index.html
    package: str                 # npm name@version
    files: tuple[tuple[str, str], ...]    # (path in the package, path under html/vendor)
    licence: str                 # path of its licence file in the package


LIBRARIES: tuple[Library, ...] = (
    Library(r"https://code\.jquery\.com/jquery-3\.3\.1\.min\.js", "jquery@3.3.1",
            (("dist/jquery.min.js", "jquery/jquery.min.js"),), "LICENSE.txt"),
    Library(r"https://cdnjs\.cloudflare\.com/ajax/libs/flot/0\.8\.3/jquery\.flot\.min\.js", "flot@0.8.3",
            (("jquery.flot.js", "flot/jquery.flot.js"),), "LICENSE.txt"),
    Library(r"https://cdnjs\.cloudflare\.com/ajax/libs/flot/0\.8\.3/jquery\.flot\.time\.min\.js",
            "flot@0.8.3", (("jquery.flot.time.js", "flot/jquery.flot.time.js"),), "LICENSE.txt"),
    Library(r"https://cdnjs\.cloudflare\.com/ajax/libs/flot/0\.8\.3/jquery\.flot\.selection\.min\.js",
            "flot@0.8.3", (("jquery.flot.selection.js", "flot/jquery.flot.selection.js"),),
            "LICENSE.txt"),
    Library(r"https://cdnjs\.cloudflare\.com/ajax/libs/flot/0\.8\.3/jquery\.flot\.categories\.min\.js",
            "flot@0.8.3", (("jquery.flot.categories.js", "flot/jquery.flot.categories.js"),),
            "LICENSE.txt"),
    Library(r"https://cdn\.jsdelivr\.net/npm/flot-orderbars@1\.0\.0/js/jquery\.flot\.orderBars\.js",
            "flot-orderbars@1.0.0",
            (("js/jquery.flot.orderBars.js", "flot-orderbars/jquery.flot.orderBars.js"),),
            "package.json"),
    Library(r"https://cdnjs\.cloudflare\.com/ajax/libs/stupidtable/1\.0\.1/stupidtable\.min\.js",
            "stupid-table-plugin@1.1.3",
            (("stupidtable.min.js", "stupidtable/stupidtable.min.js"),), "LICENSE"),
    Library(r"https://cdnjs\.cloudflare\.com/ajax/libs/blueimp-md5/2\.19\.0/js/md5\.min\.js",
            "blueimp-md5@2.19.0", (("js/md5.min.js", "blueimp-md5/md5.min.js"),), "LICENSE.txt"),
    Library(r"https://cdn\.jsdelivr\.net/npm/bootstrap@3\.1\.1/dist/js/bootstrap\.min\.js",
            "bootstrap@3.1.1", (("dist/js/bootstrap.min.js", "bootstrap/js/bootstrap.min.js"),),
            "LICENSE"),
    Library(r"https://cdn\.jsdelivr\.net/npm/bootstrap@3\.1\.1/dist/css/bootstrap\.min\.css",
            "bootstrap@3.1.1",
            (("dist/css/bootstrap.min.css", "bootstrap/css/bootstrap.min.css"),
             *((f"dist/fonts/glyphicons-halflings-regular.{ext}",
                f"bootstrap/fonts/glyphicons-halflings-regular.{ext}")
               for ext in ("eot", "svg", "ttf", "woff"))),
            "LICENSE"),
)


def _tarball(package: str, cache: Path) -> Path:
    """The package's npm tarball, packed into ``cache`` once."""
    name, version = package.rsplit("@", 1)
    found = cache / f"{name}-{version}.tgz"
    if found.is_file():
        return found
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError(f"the ASV dashboard needs {package} from the npm registry and no npm "
                           f"client is installed (apt-get install npm), nor is it cached at {found}")
    cache.mkdir(parents=True, exist_ok=True)
    subprocess.run([npm, "pack", package, "--pack-destination", str(cache), "--silent"],
                   check=True, capture_output=True, text=True, timeout=300)
    if not found.is_file():
        raise RuntimeError(f"npm pack {package} wrote no {found.name} in {cache}")
    return found


def _extract(tarball: Path, member: str, target: Path) -> None:
    with tarfile.open(tarball) as archive:
        source = archive.extractfile(f"package/{member}")
        if source is None:
            raise RuntimeError(f"{tarball.name} has no {member}")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(source.read())


def vendor_site(html_dir: Path, cache: Path = CACHE) -> list[Path]:
    """Copy every CDN library ``index.html`` loads into ``html_dir/vendor`` and point the page
    at the copies. Returns the files written; raises if the page loads a library not listed."""
    index = html_dir / "index.html"
    page = index.read_text()
    written = []
    for library in LIBRARIES:
        if not re.search(library.url_pattern, page):
            continue
        tarball = _tarball(library.package, cache)
        for member, local in library.files:
            _extract(tarball, member, html_dir / "vendor" / local)
            written.append(html_dir / "vendor" / local)
        folder = library.files[0][1].split("/", 1)[0]
        licence = html_dir / "vendor" / folder / f"LICENSE-{library.package.replace('@', '-')}"
        _extract(tarball, library.licence, licence)
        written.append(licence)
        page = _point_at(page, library.url_pattern, html_dir, library.files[0][1])
    left = external_assets(page)
    if left:
        raise RuntimeError(f"index.html still loads from the internet: {', '.join(left)}")
    index.write_text(page)
    return written


def _point_at(page: str, url_pattern: str, html_dir: Path, local: str) -> str:
    """``page`` with the tag loading ``url_pattern`` pointed at ``vendor/local``; its
    subresource-integrity hash (the CDN file's) is replaced by the local file's, so the browser
    still checks what it runs."""
    digest = base64.b64encode(hashlib.sha512((html_dir / "vendor" / local).read_bytes()).digest())
    tag = re.compile(r'<(script|link)\b[^>]*"' + url_pattern + r'"[^>]*>')

    def rewrite(found: re.Match) -> str:
        text = re.sub(url_pattern, "vendor/" + local, found.group(0))
        return re.sub(r'integrity="[^"]*"', f'integrity="sha512-{digest.decode()}"', text)

    page, count = tag.subn(rewrite, page)
    if count != 1:
        raise RuntimeError(f"expected one tag loading {url_pattern} in index.html, found {count}")
    return page


def external_assets(page: str) -> list[str]:
    """Script and style-sheet addresses of ``page`` that point off the site."""
    return re.findall(r'<(?:script|link)[^>]*(?:src|href)="(https?://[^"]+)"', page)
