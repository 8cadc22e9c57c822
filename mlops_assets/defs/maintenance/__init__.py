"""maintenance: scheduled OPTIMIZE (Z-order on cell and time) and VACUUM of every lake table."""
