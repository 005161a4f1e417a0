using System.Diagnostics;

namespace AgentRuns.EndToEnd.Tests.Support;

public sealed record ClientRun(int ExitCode, string Output, string Errors);

/// <summary>
/// Runs the public guide's TypeScript example (client/guide-example.ts, copied verbatim) with Node, tsx and
/// @microsoft/fetch-event-source from the repository's node_modules, pointed at a local host, with the operator's
/// answer on stdin.
/// </summary>
public static class GuideClient
{
    public static string ClientDirectory => Path.Combine(RepositoryRoot.Path, "tests", "EndToEnd.Tests", "client");

    /// <param name="answerAfter">How long the operator takes to answer (the answer reaches stdin then).</param>
    public static async Task<ClientRun> RunAsync(LocalHostProcess host, string answer, TimeSpan? timeout = null, TimeSpan? answerAfter = null)
    {
        var tsx = Path.Combine(RepositoryRoot.Path, "node_modules", "tsx");
        if (!Directory.Exists(tsx) || !Directory.Exists(Path.Combine(RepositoryRoot.Path, "node_modules", "@microsoft", "fetch-event-source")))
        {
            throw new InvalidOperationException("The TypeScript client's packages are missing: run `npm ci` at the repository root.");
        }

        var start = new ProcessStartInfo("node")
        {
            // The shim gives Node the browser globals fetch-event-source expects; the example itself is unchanged.
            ArgumentList = { "--import", "./node-browser-shim.mjs", "--import", "tsx", "guide-example.ts" },
            WorkingDirectory = ClientDirectory,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            Environment =
            {
                ["API_BASE"] = $"http://127.0.0.1:{host.Settings.HttpPort}",
                ["API_KEY"] = host.Settings.ApiKey,
                ["NODE_NO_WARNINGS"] = "1",
            },
        };
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        if (answerAfter is { } delay)
        {
            await Task.Delay(delay);
        }

        await process.StandardInput.WriteLineAsync(answer);
        process.StandardInput.Close();
        try
        {
            await process.WaitForExitAsync().WaitAsync(timeout ?? TimeSpan.FromSeconds(90));
        }
        catch (TimeoutException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"The guide's client did not finish:\n{await output}\n{await errors}");
        }

        return new ClientRun(process.ExitCode, await output, await errors);
    }
}
