using AgentRuns.Tools;

return await KeyCommands.RunAsync(args, Console.Out, Console.Error);
