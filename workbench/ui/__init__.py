"""workbench.ui"""

from workbench.ui import textual_fixes

textual_fixes.apply()
