print("export-cleanup")
