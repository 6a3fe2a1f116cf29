import Foundation
import Testing
import WasmSandbox

/// The width and height of a PNG image, or `nil` when the bytes are not one.
func pngSize(_ bytes: [UInt8]?) -> (width: Int, height: Int)? {
    guard let bytes, bytes.count > 24, bytes.starts(with: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]),
        bytes[12..<16].elementsEqual(Array("IHDR".utf8))
    else { return nil }
    func bigEndian(_ offset: Int) -> Int { bytes[offset..<offset + 4].reduce(0) { $0 << 8 | Int($1) } }
    return (bigEndian(16), bigEndian(20))
}

@Suite("Python's scientific stack works in the sandbox")
struct PythonStackTests {
    @Test func numpyLinearAlgebra() async {
        let result = await runPython(
            """
            import numpy as np
            a = np.array([[3.0, 1.0, 0.0], [1.0, 2.0, 1.0], [0.0, 1.0, 4.0]])
            x = np.linalg.solve(a, np.array([5.0, 8.0, 14.0]))
            print(np.round(x, 6).tolist(), round(float(np.linalg.det(a)), 6))
            print(np.allclose(a @ np.linalg.inv(a), np.eye(3)), sorted(np.round(np.linalg.eigvalsh(a), 3).tolist())[0] > 0)
            """)
        #expect(result.status == .ok, "\(result.stderrText)")
        #expect(result.stdoutText == "[1.0, 2.0, 3.0] 17.0\nTrue True\n")
    }

    @Test func pandasReadsACSVFromTheWorkspaceAndWritesAGroupBy() async throws {
        let csv = "city,year,sales\nOslo,2024,10\nLima,2024,7\nOslo,2025,5\nLima,2025,1\nOslo,2025,2\n"
        let workspace = try Workspace(files: ["sales.csv": Array(csv.utf8)])
        defer { workspace.remove() }
        let result = await runPython(
            """
            import pandas as pd
            df = pd.read_csv('/workspace/sales.csv')
            totals = df.groupby('city', as_index=False)['sales'].sum().sort_values('city')
            totals.to_csv('/workspace/totals.csv', index=False)
            print(len(df), totals['sales'].tolist())
            """, workspace: workspace)
        #expect(result.status == .ok, "\(result.stderrText)")
        #expect(result.stdoutText == "5 [8, 17]\n")
        #expect(workspace.contents(of: "totals.csv") == Array("city,sales\nLima,8\nOslo,17\n".utf8))
        #expect(result.files?.map(\.path) == ["sales.csv", "totals.csv"])
    }

    @Test func scipyStatistics() async {
        let result = await runPython(
            """
            from scipy import stats, optimize
            print(round(stats.norm.cdf(1.96), 4), round(stats.norm.ppf(0.5), 4))
            t = stats.ttest_ind([1.1, 2.0, 2.9, 4.2], [10.0, 11.1, 12.2, 12.9])
            print(t.pvalue < 0.001, round(optimize.brentq(lambda x: x * x - 2, 0, 2), 6))
            """)
        #expect(result.status == .ok, "\(result.stderrText)")
        #expect(result.stdoutText == "0.975 0.0\nTrue 1.414214\n")
    }

    @Test func scikitLearnFitsAndPredicts() async {
        let result = await runPython(
            """
            import numpy as np
            from sklearn.linear_model import LinearRegression
            from sklearn.tree import DecisionTreeClassifier
            x = np.arange(20, dtype=float).reshape(-1, 1)
            model = LinearRegression().fit(x, 3 * x.ravel() + 2)
            print(round(float(model.coef_[0]), 6), round(float(model.intercept_), 6), model.predict([[100.0]]).round(3).tolist())
            tree = DecisionTreeClassifier(random_state=0).fit([[0], [1], [10], [11]], ['low', 'low', 'high', 'high'])
            print(tree.predict([[2], [9]]).tolist())
            """)
        #expect(result.status == .ok, "\(result.stderrText)")
        #expect(result.stdoutText == "3.0 2.0 [302.0]\n['low', 'high']\n")
    }

    @Test func showSavesFiguresAsPNGsInTheWorkspace() async throws {
        let workspace = try Workspace()
        defer { workspace.remove() }
        let result = await runPython(
            """
            import matplotlib.pyplot as plt
            plt.figure(figsize=(4, 3), dpi=50)
            plt.plot([1, 2, 3], [4, 1, 9])
            plt.title('sales ✓')
            plt.show()
            fig, ax = plt.subplots(figsize=(2, 2), dpi=100)
            ax.bar(['a', 'b'], [1, 2])
            print('left open')
            """, workspace: workspace)
        #expect(result.status == .ok, "\(result.stderrText)")
        #expect(result.stdoutText == "left open\n")
        // show() saved the first; the one left open was saved when the run ended.
        #expect(result.files?.map(\.path) == ["figure-1.png", "figure-2.png"])
        let first = pngSize(workspace.contents(of: "figure-1.png"))
        let second = pngSize(workspace.contents(of: "figure-2.png"))
        #expect(first?.width == 200 && first?.height == 150, "\(String(describing: first))")
        #expect(second?.width == 200 && second?.height == 200, "\(String(describing: second))")
    }

    @Test func figuresNeverOverwriteFilesAlreadyThere() async throws {
        let workspace = try Workspace(files: ["figure-1.png": Array("mine".utf8)])
        defer { workspace.remove() }
        let result = await runPython(
            "import matplotlib.pyplot as plt\nplt.plot([1, 2])\nplt.show()", workspace: workspace)
        #expect(result.status == .ok, "\(result.stderrText)")
        #expect(workspace.contents(of: "figure-1.png") == Array("mine".utf8))
        #expect(pngSize(workspace.contents(of: "figure-2.png")) != nil)
    }

    /// A figure the code saved itself comes back once, under its own name; one it changed
    /// after saving, or never saved, is saved when the run ends.
    @Test func figuresSavedByTheCodeAreNotSavedTwice() async throws {
        let workspace = try Workspace()
        defer { workspace.remove() }
        let result = await runPython(
            """
            import matplotlib.pyplot as plt
            plt.figure(figsize=(1, 1), dpi=30); plt.plot([1, 2]); plt.savefig('/workspace/mine.png')
            plt.figure(figsize=(2, 1), dpi=30); plt.plot([2, 1])
            later = plt.figure(figsize=(3, 1), dpi=30); plt.plot([1, 1]); later.savefig('/workspace/later.png')
            plt.plot([2, 2])
            plt.show()
            """, workspace: workspace)
        #expect(result.status == .ok, "\(result.stderrText)")
        #expect(result.files?.map(\.path) == ["figure-1.png", "figure-2.png", "later.png", "mine.png"])
        #expect(pngSize(workspace.contents(of: "figure-1.png"))?.width == 60)
        #expect(pngSize(workspace.contents(of: "figure-2.png"))?.width == 90)
    }

    @Test func withoutAWorkspaceFiguresAreReportedNotSaved() async {
        let result = await runPython("import matplotlib.pyplot as plt\nplt.plot([1, 2])\nplt.show()\nprint('ok')")
        #expect(result.status == .ok, "\(result.stderrText)")
        #expect(result.stdoutText == "ok\n")
        #expect(result.stderrText.contains("1 figure(s) not saved: this run has no /workspace directory"))
    }
}

@Suite("Python's stack within the limits")
struct PythonStackLimitTests {
    @Test func aPandasLoopThatNeverEndsTimesOut() async {
        let result = await runPython(
            """
            import pandas as pd
            df = pd.DataFrame({'a': range(100)})
            while True:
                df['a'] = df['a'].rolling(3, min_periods=1).mean()
            """, limits: ExecutionLimits(timeout: .seconds(1)))
        #expect(result.status == .timedOut, "\(result.message ?? "") \(result.stderrText)")
        #expect(await runPython("print('alive')").stdoutText == "alive\n")
    }

    @Test func aGrowingDataFrameEndsAtTheMemoryCap() async {
        let limit = 192 << 20
        let result = await runPython(
            """
            import numpy as np, pandas as pd
            frames = []
            while True:
                frames.append(pd.DataFrame(np.ones((100_000, 8))))
            """, limits: ExecutionLimits(timeout: generousTimeout, memoryBytes: limit))
        #expect(result.status == .memoryLimit, "\(result.message ?? "") \(result.stderrText.suffix(300))")
        #expect(result.memoryPeakBytes <= limit)
        #expect(await runPython("print('alive')").stdoutText == "alive\n")
    }

    @Test func aFuelBudgetStopsALoopAndCountsAShortRun() async {
        // Runs with a fuel budget use the other precompiled engine, with metering.
        let loop = await runPython(
            "while True: pass", limits: ExecutionLimits(timeout: generousTimeout, fuel: 50_000_000))
        #expect(loop.status == .outOfFuel, "\(loop.message ?? "")")
        let short = await runPython(
            "print(sum(range(10)))", limits: ExecutionLimits(timeout: generousTimeout, fuel: 10_000_000_000))
        #expect(short.stdoutText == "45\n", "\(short.stderrText)")
        #expect((short.fuelConsumed ?? 0) > 0)
        #expect(short.cacheHit == true)
    }

    @Test func aLimitBelowTheEnginesOwnMemoryIsAClearError() async {
        let result = await runPython(
            "print(1)", limits: ExecutionLimits(timeout: generousTimeout, memoryBytes: 16 << 20))
        #expect(result.status == .invalidInput)
        #expect(result.message?.contains("the Python engine starts with") == true, "\(result.message ?? "")")
    }

    @Test func theHostChannelAnswersThatNoHostIsBound() async {
        // The guest's module asks the host which tools it has; the sandbox binds none.
        let result = await runPython(
            """
            try:
                from host import tools
            except ImportError as error:
                print(error)
            """)
        #expect(result.status == .ok, "\(result.stderrText)")
        #expect(result.stdoutText == "this run has no tools: the embedder passed none\n")
    }

    @Test(arguments: [
        "import socket; socket.create_connection(('127.0.0.1', 80))",
        "import urllib.request; urllib.request.urlopen('http://127.0.0.1/')",
        "import pandas as pd; pd.read_csv('http://127.0.0.1/x.csv')",
    ])
    func thereIsNoNetwork(source: String) async {
        let result = await runPython(source)
        #expect(result.status == .exited, "\(result.stderrText)")
        #expect(result.exitCode == 1)
        #expect(result.stderrText.contains("Error"), "\(result.stderrText)")
    }

    @Test(arguments: [
        "import pandas as pd; print(pd.read_csv('/etc/passwd'))",
        "import numpy as np; print(np.fromfile('/etc/hostname'))",
        "print(open('/usr/local/lib/../../../etc/passwd').read())",
        "open('/usr/local/lib/python315.zip', 'ab')",
    ])
    func hostFilesStayOutOfReach(source: String) async {
        let result = await runPython(source)
        #expect(result.status == .exited, "\(result.stderrText)")
        #expect(result.exitCode == 1)
        #expect(!result.stdoutText.contains("root:"))
    }
}
