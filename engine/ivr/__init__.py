"""The IVR flow language: YAML flows loaded with exact error positions, checked, and run sans-IO."""
