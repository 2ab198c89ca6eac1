"""HR in the Official Account: binding (scan, `绑定`), text commands, menu clicks, and
candidates' text turned into feedback. Importing the package registers the handlers."""
from wechat_handlers.hr import binding, clicks, commands  # noqa: F401
