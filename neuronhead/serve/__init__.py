"""An online endpoint for trained heads (``neuronhead serve``) on Ray Serve.

``requests`` reads and refuses bodies and ``auth`` checks the API key (neither imports Ray); ``app`` holds
the two deployments (the HTTP front and the model) and the app builder a Serve config file names;
``server`` starts it. Importing this package imports no Ray: the CLI reaches it lazily.
"""
