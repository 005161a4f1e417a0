using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace AgentRuns.EndToEnd.Tests.Support;

/// <summary>
/// The sample worker (samples/worker/worker.ts) as a child process, started as its README says (<c>node --import tsx</c> with
/// <c>WORKER_SECRET</c> and <c>PORT</c>), with tsx from the repository's node_modules; ready once it says it listens.
/// </summary>
public sealed class SampleWorker : IAsyncDisposable
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(30);
    private readonly Process _process;
    private readonly ConcurrentQueue<string> _output;

    private SampleWorker(Process process, ConcurrentQueue<string> output, int port)
    {
        _process = process;
        _output = output;
        Port = port;
    }

    public static string Script => Path.Combine(RepositoryRoot.Path, "samples", "worker", "worker.ts");

    public int Port { get; }

    public string Url => $"http://127.0.0.1:{Port}/";

    /// <summary>What it printed (stdout and stderr), in order.</summary>
    public IReadOnlyList<string> Lines => [.. _output];

    public string Output => string.Join(Environment.NewLine, _output);

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public static async Task<SampleWorker> StartAsync(string secret, int port)
    {
        if (!Directory.Exists(Path.Combine(RepositoryRoot.Path, "node_modules", "tsx")))
        {
            throw new InvalidOperationException("tsx is missing: run `npm ci` at the repository root.");
        }

        var start = new ProcessStartInfo("node")
        {
            ArgumentList = { "--import", "tsx", Script },
            WorkingDirectory = RepositoryRoot.Path,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            Environment =
            {
                ["WORKER_SECRET"] = secret,
                ["PORT"] = port.ToString(System.Globalization.CultureInfo.InvariantCulture),
                ["HOST"] = "127.0.0.1",
                ["NODE_NO_WARNINGS"] = "1",
            },
        };
        var output = new ConcurrentQueue<string>();
        var listening = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var process = Process.Start(start) ?? throw new InvalidOperationException("Could not start node.");
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null)
            {
                return;
            }

            output.Enqueue(e.Data);
            if (e.Data.StartsWith("worker listening on", StringComparison.Ordinal))
            {
                listening.TrySetResult();
            }
        };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                output.Enqueue(e.Data);
            }
        };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var worker = new SampleWorker(process, output, port);
        var exited = process.WaitForExitAsync();
        if (await Task.WhenAny(listening.Task, exited, Task.Delay(StartTimeout)) != listening.Task)
        {
            await worker.DisposeAsync();
            throw new InvalidOperationException($"The sample worker did not start listening:{Environment.NewLine}{worker.Output}");
        }

        return worker;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
    }
}
