using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using AgentRuns.Benchmarks;
using AgentRuns.Benchmarks.Infra;
using AgentRuns.Benchmarks.Micro;
using AgentRuns.Benchmarks.Scenarios;

// dotnet run -c Release --project bench/Benchmarks [-- --quick] [--micro | --e2e] [--only cost,signal,append,throughput,waiting,inbox]
//   [--waiting-runs N] [--out DIR]
// Starts its own Azurite (the repository's, `npm ci` first) and local hosts; every request goes to 127.0.0.1.
var quick = args.Contains("--quick");
var microOnly = args.Contains("--micro");
var e2eOnly = args.Contains("--e2e");
var only = Value("--only")?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
var root = RepositoryRoot();
var output = Path.GetFullPath(Value("--out") ?? Path.Combine(root, "artifacts", "benchmarks"));
Directory.CreateDirectory(output);
HostProcess.LogDirectory = Path.Combine(output, "hosts");

if (typeof(Results).Assembly.GetCustomAttribute<DebuggableAttribute>()?.IsJITOptimizerDisabled == true)
{
    Console.Error.WriteLine("Build in Release: dotnet run -c Release --project bench/Benchmarks");
    return 2;
}

var plan = quick ? Plan.Quick : Plan.Full;
if (Value("--waiting-runs") is { } waitingRuns)
{
    plan = plan with { WaitingRuns = int.Parse(waitingRuns, CultureInfo.InvariantCulture) };
    plan = plan with { CreateSamples = Math.Min(plan.CreateSamples, plan.WaitingRuns) };
}

var command = "dotnet run -c Release --project bench/Benchmarks" + (args.Length > 0 ? " -- " + string.Join(' ', args) : "");
var started = Clock.Now;
Console.WriteLine($"Load average before: {MachineInfo.LoadAverage()} on {Environment.ProcessorCount} cores");

var results = new Results
{
    StartedAt = DateTimeOffset.UtcNow,
    Command = command,
    Plan = plan,
    Machine = null!,
};

if (!microOnly)
{
    var azurite = await AzuriteServer.StartAsync(root);
    results.Machine = await MachineInfo.CollectAsync(azurite.Version);
    await using var context = new BenchContext(plan, azurite, root, results);
    results.Methods["throughput"] = ThroughputScenario.Method;
    results.Methods["waiting"] = WaitingScenario.Method(plan);
    (string Name, Func<BenchContext, Task> Run)[] scenarios =
    [
        ("cost", CostScenario.RunAsync),
        ("signal", SignalScenario.RunAsync),
        ("append", AppendScenario.RunAsync),
        ("throughput", ThroughputScenario.RunAsync),
        ("waiting", WaitingScenario.RunAsync),
        ("inbox", InboxScenario.RunAsync),
    ];
    foreach (var (name, run) in scenarios.Where(s => only is null || only.Contains(s.Name)))
    {
        try
        {
            await run(context);
        }
#pragma warning disable CA1031 // One failed scenario is reported; the others still run.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            context.Log($"{name} failed: {ex}");
            results.Errors.Add($"{name}: {ex.GetType().Name}: {ex.Message}");
        }
    }

    context.CollectWarnings();
}
else
{
    results.Machine = await MachineInfo.CollectAsync("(not started)");
}

if (!e2eOnly)
{
    results.Methods["micro"] = MicroRunner.Method;
    results.Micro.AddRange(MicroRunner.Run(Path.Combine(output, "BenchmarkDotNet")));
}

results.Machine = results.Machine with { LoadAfter = MachineInfo.LoadAverage() };
results.DurationSeconds = Math.Round(Clock.MsSince(started) / 1000, 1);
await File.WriteAllTextAsync(Path.Combine(output, "results.json"), Report.ToJson(results));
await File.WriteAllTextAsync(Path.Combine(output, "results.md"), Report.ToMarkdown(results));

Console.WriteLine();
Console.WriteLine(Report.Headline(results));
Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Took {results.DurationSeconds / 60:F1} min. Wrote {Path.Combine(output, "results.json")} and results.md."));
foreach (var error in results.Errors)
{
    Console.WriteLine($"ERROR {error}");
}

return results.Errors.Count == 0 ? 0 : 1;

string? Value(string name)
{
    var i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
}

static string RepositoryRoot()
{
    foreach (var start in new[] { Environment.CurrentDirectory, AppContext.BaseDirectory })
    {
        for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Functions.sln")))
            {
                return dir.FullName;
            }
        }
    }

    throw new InvalidOperationException("Run from the repository (Functions.sln not found).");
}
