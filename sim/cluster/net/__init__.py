"""The simulated world under the actors: the event engine (simulated clock, named random
streams, timers), the network (links, connections, node lifecycle) and the Kafka messages."""
