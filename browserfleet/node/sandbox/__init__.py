"""OS containment of the node's browsers (docs/security.md, "Layer 2: OS containment").

Each browser runs as the unprivileged ``browserfleet-browser`` user in a bubblewrap sandbox of its
own, with Chromium's own sandbox on where the kernel allows it. Inside it sees ``/usr``, a few
read-only system files and only its own folders (profile, downloads, uploads); no file of the
server. Its network namespace holds only a loopback interface on which the node serves the
browser's egress channel(s) and (sessions) reaches its DevTools port: it can open no other
connection. This holds whatever a tenant sends the browser (raw CDP, WebDriver, steps), with or
without the protocol firewall.

Modules, lowest layer first:

* ``user`` - :class:`BrowserUser`, handing folders over to it;
* ``jail`` - the ``bwrap`` + ``setpriv`` command line: namespaces, filesystem view, environment;
* ``containment`` - :class:`Containment`: can this host contain browsers (probed once at start),
  and the ``browser_containment`` setting (required / auto / off);
* ``netns`` - :class:`NetNamespace`: sockets made inside a sandbox's network namespace;
* ``bridge`` - :class:`PortBridge`: a host port leading to the same port in a sandbox (DevTools);
* ``launcher`` - starting a session's browser, contained or not;
* ``pool_jail`` - :class:`PoolJail`: a pooled (Playwright-launched) browser's sandbox.
"""

from browserfleet.node.sandbox.containment import Containment, ContainmentSetting, decide
from browserfleet.node.sandbox.jail import Folders
from browserfleet.node.sandbox.launcher import (
    BrowserLauncher,
    ContainedLauncher,
    DirectLauncher,
    Helper,
    StartedBrowser,
    launcher_for,
    start_helper,
)
from browserfleet.node.sandbox.netns import NetNamespace
from browserfleet.node.sandbox.pool_jail import PoolJail
from browserfleet.node.sandbox.user import BrowserUser

__all__ = [
    "BrowserLauncher",
    "BrowserUser",
    "ContainedLauncher",
    "Containment",
    "ContainmentSetting",
    "DirectLauncher",
    "Folders",
    "Helper",
    "NetNamespace",
    "PoolJail",
    "StartedBrowser",
    "decide",
    "launcher_for",
    "start_helper",
]
