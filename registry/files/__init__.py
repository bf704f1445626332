"""Files from elsewhere: every write in a run or sweep directory, and every bounded, typed read. No torch.

- ``atomic``: writes that never follow a link, renamed into place
- ``untrusted``: bounded reads, JSON and array headers checked
"""
