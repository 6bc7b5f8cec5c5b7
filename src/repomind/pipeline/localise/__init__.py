"""Stage one of the pipeline: rank the files a fix will change and turn the ranking into a calibrated set."""

from repomind.pipeline.localise.result import GUARANTEE_NOTE, Localisation, Localiser, RankedFile

__all__ = ["GUARANTEE_NOTE", "Localisation", "Localiser", "RankedFile"]
