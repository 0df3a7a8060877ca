"""An online endpoint for trained heads (``neuronhead serve``) on Ray Serve.

``requests`` reads and refuses bodies (no Ray); ``app`` is the deployment and the app builder a Serve
config file names; ``server`` starts it. Importing this package imports no Ray: the CLI reaches it lazily.
"""
