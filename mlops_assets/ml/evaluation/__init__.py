"""Measurements of the training graph (command-line scripts): on the real flash-butt welds
(`flash_butt_eval`) and on simulated welds (`simulator_eval`), both through `line_eval`."""
