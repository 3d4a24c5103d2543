def kill_process_tree(pid, include_parent=True):
    pass
