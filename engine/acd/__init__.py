"""Pure ACD: agent, call and offer state machines, routing strategies, Erlang C staffing."""
