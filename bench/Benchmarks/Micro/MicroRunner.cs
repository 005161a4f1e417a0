using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Diagnosers;
using BenchmarkDotNet.Exporters;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Loggers;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;

namespace AgentRuns.Benchmarks.Micro;

/// <summary>Runs the micro benchmarks with BenchmarkDotNet, in process (no generated project to build), short jobs.</summary>
public static class MicroRunner
{
    public const string Method =
        "BenchmarkDotNet, in-process toolchain, ShortRun job (3 warm-up and 3 measured iterations of many invocations " +
        "each), memory diagnoser; run after the end-to-end scenarios, with Azurite and the host stopped.";

    public static IReadOnlyList<MicroResult> Run(string artifacts)
    {
        var config = ManualConfig.CreateEmpty()
            .AddJob(Job.ShortRun.WithToolchain(InProcessEmitToolchain.Instance))
            .AddDiagnoser(MemoryDiagnoser.Default)
            .AddColumnProvider(DefaultColumnProviders.Instance)
            .AddLogger(ConsoleLogger.Default)
            .AddExporter(MarkdownExporter.GitHub)
            .WithArtifactsPath(artifacts)
            .WithOptions(ConfigOptions.DisableLogFile | ConfigOptions.JoinSummary);
        Type[] types = [typeof(RunIdBenchmarks), typeof(RequestHashBenchmarks), typeof(RedactionBenchmarks), typeof(EventStreamBenchmarks)];
        var summaries = BenchmarkRunner.Run(types, config);
        return
        [
            .. summaries.SelectMany(s => s.Reports)
                .OrderBy(r => Array.IndexOf(types, r.BenchmarkCase.Descriptor.Type))
                .ThenBy(r => r.BenchmarkCase.Descriptor.WorkloadMethod.MetadataToken)
                .Select(r => new MicroResult(
                    r.BenchmarkCase.Descriptor.WorkloadMethodDisplayInfo.Trim('\''),
                    Math.Round(r.ResultStatistics?.Mean ?? double.NaN, 1),
                    Math.Round(r.ResultStatistics?.StandardError ?? double.NaN, 1),
                    r.GcStats.GetBytesAllocatedPerOperation(r.BenchmarkCase))),
        ];
    }
}
